# plot.sh — `ztrain plot`: a run with checkpoints that stops at W=2 and resumes
# at W=3 is drawn as a valid PNG (8-byte signature, IHDR chunk with its CRC)
# with the restart found; a file from before start events (memory events
# only) too; a run that is still writing, with a partial last line, is drawn
# while it goes; a file without training records exits 4.
source "$(dirname "$0")/lib.sh"
command -v gnuplot >/dev/null || fail "gnuplot missing: scripts/setup.sh installs gnuplot-nox"
cfg="$SRC/tests/ranks/tiny_mlp.ini"
common=(--config "$cfg" --set data.path="$DATA/mnist.h5" --set train.steps=12 --set eval.every=4
        --set ckpt.every=3 --set ckpt.dir="$T/ck" --set log.metrics="$T/m.jsonl")

png_ok() {  # png_ok FILE : signature, IHDR first with a good CRC, sane size, IEND last
    "$PY" - "$1" <<'PY'
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", "no PNG signature"
n, typ = struct.unpack(">I4s", b[8:16])
assert typ == b"IHDR" and n == 13, f"first chunk {typ} ({n} bytes), not IHDR"
w, h = struct.unpack(">II", b[16:24])
crc, = struct.unpack(">I", b[29:33])
assert crc == zlib.crc32(b[12:29]), "IHDR CRC mismatch"
assert 200 <= w <= 5000 and 200 <= h <= 5000, f"size {w}x{h}"
assert b[-12:-4] == b"\0\0\0\0IEND", "no IEND chunk at the end"
print(f"{sys.argv[1]}: PNG {w}x{h}, {len(b)} bytes")
PY
}

expect_exit 3 run_w 2 train "${common[@]}" --stop-at 7   # stops at step 7 with a checkpoint
run_w 3 train "${common[@]}" >"$T/l2" 2>&1 || { cat "$T/l2"; fail "resumed leg at W=3"; }
"$ZT" plot "$T/m.jsonl" >"$T/out" 2>&1 || { cat "$T/out"; fail "plot"; }
cat "$T/out"
grep -q "wrote $T/m.png (12 log records, 3 evaluations, 5 checkpoints, 1 restart(s))" "$T/out" \
    || fail "plot did not find 12 steps, 3 evaluations, checkpoints 3 6 7 9 12 and one restart"
png_ok "$T/m.png" || fail "m.png is not a valid PNG"

# the same run as a file from before start events: the memory events mark the runs
grep -v '"event":"start"' "$T/m.jsonl" >"$T/old.jsonl"
"$ZT" plot "$T/old.jsonl" "$T/old.png" >"$T/out" 2>&1 || { cat "$T/out"; fail "plot of an older file"; }
grep -q "1 restart(s)" "$T/out" || { cat "$T/out"; fail "older file: restart not found"; }
png_ok "$T/old.png" || fail "old.png"

# a run still going: plotted between its records, then a partial last line
rm -rf "$T/ck" "$T/m.jsonl"
start_w 2 train "${common[@]}" --set train.steps=1000000 --set ckpt.every=0 --set log.every=1 >"$T/l3" 2>&1
wait_for 120 "a training record" grep -q '"loss"' "$T/m.jsonl"
"$ZT" plot "$T/m.jsonl" "$T/live.png" >"$T/out" 2>&1 || { cat "$T/out" "$T/l3"; kill_w $JOB_PID || true; fail "live plot"; }
kill_w $JOB_PID || true
cat "$T/out"
png_ok "$T/live.png" || fail "live.png"
grep -m3 '"loss"' "$T/m.jsonl" >"$T/part.jsonl"
printf '{"step":99,"loss":1.5,"lr":0.1,"samp' >>"$T/part.jsonl"
"$ZT" plot "$T/part.jsonl" "$T/part.png" >"$T/out" 2>&1 || { cat "$T/out"; fail "partial last line"; }
grep -q "(3 log records, .*a partial last line left out)" "$T/out" || { cat "$T/out"; fail "partial line counted"; }
png_ok "$T/part.png" || fail "part.png"

# nothing to draw yet: exit 4, and a command-line mistake: exit 2
grep '"event"' "$T/m.jsonl" >"$T/none.jsonl" || true
expect_exit 4 "$ZT" plot "$T/none.jsonl" "$T/none.png"
grep -q "none.jsonl: no training records yet" "$T/err" || fail "empty: $(cat "$T/err")"
expect_exit 4 "$ZT" plot "$T/missing.jsonl"
grep -q "missing.jsonl: cannot open" "$T/err" || fail "missing: $(cat "$T/err")"
expect_exit 2 "$ZT" plot
echo "PASS: ztrain plot draws finished, restarted, older and running runs as valid PNGs"
