#!/usr/bin/env bash
# config_errors.sh — bad configs and command lines exit 2 with a message naming
# the file, line, key or option; --help answers on stdout with exit 0.
. "$(dirname "$0")/lib.sh"
cfg="$SRC/tests/ranks/tiny_mlp.ini"
printf '[train]\nsteps = 3\nbogus = 1\n' >"$T/unknown.ini"
expect_exit 2 "$ZT" train --config "$T/unknown.ini"
grep -q "unknown.ini:3: unknown key 'train.bogus'" "$T/err" || fail "unknown key: $(cat $T/err)"
printf '[train]\nsteps = many\n' >"$T/badval.ini"
expect_exit 2 "$ZT" train --config "$T/badval.ini"
grep -q "badval.ini:2: train.steps: expected an integer, got 'many'" "$T/err" || fail "bad value: $(cat $T/err)"
printf '[train\nsteps = 3\n' >"$T/syntax.ini"
expect_exit 2 "$ZT" train --config "$T/syntax.ini"
grep -q "syntax.ini:1" "$T/err" || fail "syntax: $(cat $T/err)"
expect_exit 2 "$ZT" train --config "$cfg" --set train.zero_stage=7
grep -q "train.zero_stage" "$T/err" || fail "range: $(cat $T/err)"
expect_exit 2 "$ZT" train --config "$T/nonexistent.ini"
grep -q "nonexistent.ini: cannot open" "$T/err" || fail "missing file: $(cat $T/err)"
# more ranks than micro-batches per step: global_batch 24 / micro_batch 12 = 2 < W=4
expect_exit 2 run_w 4 train --config "$cfg" --set data.path="$DATA/mnist.h5" --set train.micro_batch=12
grep -q "tiny_mlp.ini:6: train.global_batch = 24 is 2 micro-batches of 12 rows, fewer than the 4 ranks" "$T/err" \
    || fail "W > micro-batches: $(cat $T/err)"
# micro_batch must divide global_batch
expect_exit 2 "$ZT" train --config "$cfg" --set train.micro_batch=5
grep -q "train.micro_batch: must divide train.global_batch (24, .*tiny_mlp.ini:6), got 5" "$T/err" \
    || fail "micro_batch divides: $(cat $T/err)"
# train.exact is cpu only
expect_exit 2 "$ZT" train --config "$cfg" --set train.exact=true --set train.device=cuda
grep -q "train.exact: needs train.device = cpu" "$T/err" || fail "exact on cuda: $(cat $T/err)"
# missing dataset: exit 4 naming the file
expect_exit 4 "$ZT" train --config "$cfg" --set data.path="$T/none.h5"
grep -q "none.h5" "$T/err" || fail "missing data: $(cat $T/err)"
# dataset smaller than one global batch
expect_exit 4 "$ZT" train --config "$cfg" --set data.path="$DATA/mnist.h5" --set train.global_batch=100000 --set train.micro_batch=100000
grep -q "fewer than one global batch" "$T/err" || fail "small data: $(cat $T/err)"
# a gpt config pointed at the mnist file: a config error naming the model and the file's kind
expect_exit 2 "$ZT" train --config "$SRC/tests/ranks/tiny_gpt.ini" --set data.path="$DATA/mnist.h5"
grep -q "model.name = gpt (.*tiny_gpt.ini:[0-9]*) needs tokens data, but data.path .*mnist.h5 (.*) holds images" "$T/err" \
    || fail "wrong kind: $(cat $T/err)"
expect_exit 2 "$ZT" train --config "$cfg" --set data.path="$DATA/fortunes.h5"
grep -q "model.name = mlp (.*) needs images or features data, but data.path .*fortunes.h5 (.*) holds tokens" "$T/err" \
    || fail "wrong kind: $(cat $T/err)"

# --- config paths a person types: a directory, an empty file, a dangling
# link, an unreadable file: exit 2 naming it (never the defaults)
expect_exit 2 "$ZT" train --config "$SRC/configs"
grep -q "configs: is a directory, not a config file" "$T/err" || fail "directory: $(cat $T/err)"
: >"$T/empty.ini"
expect_exit 2 "$ZT" train --config "$T/empty.ini"
grep -q "empty.ini: the config file is empty" "$T/err" || fail "empty: $(cat $T/err)"
ln -s "$T/gone.ini" "$T/dangling.ini"
expect_exit 2 "$ZT" train -c "$T/dangling.ini"
grep -q "dangling.ini: cannot open config" "$T/err" || fail "dangling link: $(cat $T/err)"
cp "$cfg" "$T/noread.ini"; chmod 000 "$T/noread.ini"
if [ "$(id -u)" = 0 ] && ! id ztuser >/dev/null 2>&1; then
  echo "SKIP: unreadable config: running as root (chmod 000 is still readable) and no user ztuser to run as"
else
  as=(); [ "$(id -u)" = 0 ] && { chmod 755 "$T"; as=(runuser -u ztuser --); }
  expect_exit 2 "${as[@]}" "$ZT" train --config "$T/noread.ini"
  grep -q "noread.ini: cannot open config: Permission denied" "$T/err" || fail "unreadable: $(cat $T/err)"
fi

# --- getopt_long forms: --config=F, -c F, -s k=v, --set=k=v
for form in "--config=$cfg" "-c $cfg"; do
  # shellcheck disable=SC2086
  "$ZT" train $form -s train.steps=9 --set=optim.lr=0.5 --print-config >"$T/out" 2>"$T/err" || fail "$form: $(cat $T/err)"
  grep -qx "steps = 9" "$T/out" && grep -qx "lr = 0.5" "$T/out" && grep -qx "hidden = 32,16" "$T/out" \
      || fail "$form did not load the file and the overrides: $(cat $T/out)"
done
# missing values are named; a value that is an option counts as missing
for args in "train --config" "train -c" "train --set" "train --config --set train.steps=3" "info --backend"; do
  # shellcheck disable=SC2086
  expect_exit 2 "$ZT" $args
  opt=$(set -- $args; echo "$2"); [ "$opt" = -c ] && opt=--config
  grep -q "option $opt needs a value" "$T/err" || fail "'$args': missing value not named: $(cat $T/err)"
done
expect_exit 2 "$ZT" train --frobnicate
grep -q "unknown option '--frobnicate'" "$T/err" || fail "unknown option: $(cat $T/err)"
expect_exit 2 "$ZT" train "$cfg"
grep -q "unexpected argument" "$T/err" || fail "positional config: $(cat $T/err)"
expect_exit 2 "$ZT" train --stop-at soon
grep -q "stop-at: expected a step number, got 'soon'" "$T/err" || fail "stop-at: $(cat $T/err)"
expect_exit 2 "$ZT" ckpt info
grep -q "expected DIR, got 0 arguments" "$T/err" || fail "ckpt info without DIR: $(cat $T/err)"
expect_exit 2 "$ZT" ckpt export --bogus "$T" "$T/x.h5"
grep -q "unknown option '--bogus'" "$T/err" || fail "ckpt unknown option: $(cat $T/err)"
# --help: usage on stdout, nothing on stderr, exit 0, for every subcommand
for args in "--help" "train --help" "train -h" "info --help" "ckpt --help" "ckpt info --help" \
            "ckpt verify --help" "ckpt export --help"; do
  # shellcheck disable=SC2086
  expect_exit 0 "$ZT" $args
  grep -q "^usage: ztrain" "$T/out" && [ ! -s "$T/err" ] || fail "'$args': help not on stdout: $(cat $T/out $T/err)"
done
grep -q "ztrain ckpt export \[--optim\] DIR OUT.h5" "$T/out" || fail "ckpt export --help: $(cat $T/out)"

# --- device and backend: tensors live on the device, the backend must move them
expect_exit 2 "$ZT" train --config "$cfg" --set train.device=cuda --set train.backend=mpi
grep -q "train.backend: mpi cannot carry train.device = cuda tensors" "$T/err" || fail "cuda+mpi: $(cat $T/err)"
expect_exit 2 "$ZT" train --config "$cfg" --set train.backend=nccl
grep -q "train.backend: nccl needs train.device = cuda" "$T/err" || fail "cpu+nccl: $(cat $T/err)"
# more local ranks than GPUs (a GPU build with no GPU visible), or no CUDA at all
if [ "$("$ZT" info --build)" = "gpu: cuda+nccl" ]; then
  expect_exit 2 env CUDA_VISIBLE_DEVICES= "$LAUNCH" -n 2 -- "$ZT" train --config "$cfg" \
      --set data.path="$DATA/mnist.h5" --set train.device=cuda
  grep -q "train.device = cuda: 2 ranks on host .* but 0 GPU(s) visible" "$T/err" || fail "GPU count: $(cat $T/err)"
else
  expect_exit 2 run_w 2 train --config "$cfg" --set data.path="$DATA/mnist.h5" --set train.device=cuda
  grep -q "train.device = cuda but this binary was built without CUDA" "$T/err" || fail "no CUDA: $(cat $T/err)"
  echo "note: CPU build: the GPU-count check (ranks > GPUs) is covered by unit_config only"
fi
echo "PASS: config and data errors are named and exit with the documented codes"
