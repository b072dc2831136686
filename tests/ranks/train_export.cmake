# safetensors export / ckpt.init_from (tests/ranks/export.sh) and the memory
# projection before allocation (tests/ranks/memplan.sh); zt_rank_test is
# defined in train.cmake, which sorts (and is included) before this file.
zt_rank_test(ckpt_export_safetensors export.sh)
zt_rank_test(train_memplan memplan.sh)
