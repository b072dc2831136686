# bf16 on the CPU (tests/ranks/bf16.sh): bf16 tracks fp32, W-invariance in
# bf16, resume across precisions. zt_rank_test is defined in train.cmake.
zt_rank_test(train_bf16_track_gpt bf16.sh track gpt)
zt_rank_test(train_bf16_track_mlp bf16.sh track mlp)
zt_rank_test(train_bf16_invariance bf16.sh invariance)
zt_rank_test(ckpt_resume_bf16 bf16.sh resume)
zt_rank_test(train_bf16_grad_comm bf16.sh gradcomm)
