#!/usr/bin/env bash
# scripts/bench.sh — Inkan's signing speed against its floor and pyHanko, and its memory use on a
# large file, all measured in one run on this machine (absolute times drift between runs on
# shared machines; the ratios are what the goals are about).
#
#   1. inputs: a test PKI (crates/pdf-sign/tests/support/make_pki.sh) and 1 MB / 100 MB PDFs
#      (shared bench/make_pdf.py), kept in $INKAN_BENCH_DIR between runs;
#   2. `cargo bench -p pdf-sign --bench sign`: Inkan's sign and verify, and the floor (SHA-256 of
#      the file + one private-key signature), RSA-2048 and P-256 (criterion, one core);
#   3. pyHanko signing the same files in-process (shared bench/peer_bench.py), by default and
#      with RESERVE=16384, plus pyHanko validation of the 1 MB file;
#   4. peak RSS of `inkan sign` on a ~500 MB PDF (made here, deleted afterwards);
#   5. one shot: `inkan sign` (release) against `openssl cms -sign` on the 1 MB PDF, each timed
#      as a whole process (start to exit) with the same RSA-2048 or P-256 key;
#   6. contracts end to end against the real `inkan serve` (`cargo bench -p inkan --bench
#      contracts`): contracts completed per minute on SQLite and PostgreSQL, one signature over
#      HTTP against its in-process floor, peak RSS with 20 concurrent signers on a 50 MB PDF;
#   7. a table of medians, ratios and the goals, then the contracts report.
#
# Usage: scripts/bench.sh [--quick] [--no-criterion] [--no-peer] [--no-memory] [--no-oneshot]
#                         [--no-contracts] [--clean]
#   --quick      shorter criterion runs, fewer pyHanko iterations and fewer contracts
#                (figures are rougher)
#   --no-criterion  skip `cargo bench -p pdf-sign --bench sign`
#   --no-peer    skip pyHanko;  --no-memory  skip the 500 MB check
#   --no-oneshot skip the whole-process `inkan sign` against `openssl cms -sign`
#   --no-contracts  skip the end-to-end contracts bench
#   --clean      remake the PKI and the PDFs
# Environment:
#   INKAN_BENCH_DIR      inputs and results (default target/inkan-bench)
#   INKAN_BENCH_PYTHON   a Python with reportlab, Pillow and pyHanko
#                        (default $INKAN_CONFORMANCE_HOME/venv or ~/.cache/inkan-conformance/venv)
#   INKAN_SHARED         the shared folder holding bench/ (default: shared/ beside the checkout)
#   BIG_MB               size of the memory-check PDF in MB (default 500)
#   INKAN_BENCH_*        the contracts bench's counts and sizes (crates/inkan/benches/contracts/;
#                        INKAN_BENCH_POSTGRES=0 skips PostgreSQL)
# Needs: cargo, openssl, python3, GNU time (/usr/bin/time; `apt-get install time`); hyperfine for
# the one-shot step if it is installed (`apt-get install hyperfine`), else a timing loop in Python.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=0 criterion=1 peer=1 memory=1 oneshot=1 contracts=1 clean=0
for a in "$@"; do
    case $a in
        --quick) quick=1 ;;
        --no-criterion) criterion=0 ;;
        --no-peer) peer=0 ;;
        --no-memory) memory=0 ;;
        --no-oneshot) oneshot=0 ;;
        --no-contracts) contracts=0 ;;
        --clean) clean=1 ;;
        -h|--help) sed -n '2,38p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown option $a" >&2; exit 2 ;;
    esac
done

target=${CARGO_TARGET_DIR:-$root/target}
dir=${INKAN_BENCH_DIR:-$target/inkan-bench}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
shared=${INKAN_SHARED:-$root/../shared}
bench_tools=$shared/bench
big_mb=${BIG_MB:-500}
results=$dir/results
conf_home=${INKAN_CONFORMANCE_HOME:-$HOME/.cache/inkan-conformance}
py=${INKAN_BENCH_PYTHON:-$conf_home/venv/bin/python}
[ -x "$py" ] || py=python3
start=$SECONDS

step() { printf '\n== [%4ss] %s\n' "$((SECONDS - start))" "$*"; }
load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }

if [ "$clean" = 1 ]; then
    rm -rf "$dir/pki" "$dir"/*.pdf
fi
rm -rf "$results"
mkdir -p "$results"

# ---------------------------------------------------------------------------------------------
step "inputs in $dir (load average $(load) on $(nproc) cores; a busy machine makes every figure noisier)"
bash "$root/crates/pdf-sign/tests/support/make_pki.sh" "$dir/pki"

make_pdf() { # name pages px
    local out=$dir/$1.pdf
    [ -s "$out" ] && return 0
    if [ -f "$bench_tools/make_pdf.py" ] && "$py" -c 'import reportlab, PIL' 2>/dev/null; then
        "$py" "$bench_tools/make_pdf.py" "$out.tmp" "$2" "$3" >/dev/null
        mv -f "$out.tmp" "$out"
    else
        echo "bench.sh: no make_pdf.py or reportlab/Pillow; the bench writes $1.pdf itself" >&2
    fi
}
# 20 pages at 345 px ≈ 1 MB; 100 pages at 1600 px ≈ 100 MB (about a minute on an idle core).
make_pdf 1mb 20 345 &
p1=$!
make_pdf 100mb 100 1600 &
p2=$!
wait "$p1" "$p2"
ls -l "$dir"/*.pdf 2>/dev/null | awk '{print "  " $5 " bytes  " $NF}'

# ---------------------------------------------------------------------------------------------
export INKAN_BENCH_DIR=$dir INKAN_BENCH_PYTHON=$py CRITERION_HOME=$results/criterion
export INKAN_BENCH_MAKE_PDF=$bench_tools/make_pdf.py
if [ "$quick" = 1 ]; then export INKAN_BENCH_QUICK=1; fi
if [ "$criterion" = 1 ]; then
    step "cargo bench -p pdf-sign --bench sign (criterion, release)"
    (cd "$root" && cargo bench -p pdf-sign --bench sign -- --noplot) 2>&1 |
        grep --line-buffered -vE '^(Benchmarking|Found|  [0-9]+ \(|Gnuplot)|^\s*$' |
        tee "$results/criterion.log"
fi

# The release `inkan`, built once for the steps that run it as a process.
inkan=$target/release/inkan
built=0
build_inkan() {
    [ "$built" = 1 ] && return 0
    (cd "$root" && cargo build --release -p inkan --bin inkan 2>&1 | tail -1)
    built=1
}

# ---------------------------------------------------------------------------------------------
: > "$results/peer.tsv"
if [ "$peer" = 1 ]; then
    if [ -f "$bench_tools/peer_bench.py" ] && "$py" -c 'import pyhanko' 2>/dev/null; then
        step "pyHanko in-process ($bench_tools/peer_bench.py)"
        pdir=$dir/peer
        rm -rf "$pdir"
        mkdir -p "$pdir"
        # peer_bench.py wants KEY.key / KEY.crt and ca.crt in its working folder, and writes
        # out_pyhanko_KEY_PDF there, so the PDF is named without a folder.
        for k in rsa2048 p256; do
            ln -s "$dir/pki/$k.key" "$pdir/$k.key"
            ln -s "$dir/pki/$k.pem" "$pdir/$k.crt"
        done
        ln -s "$dir/pki/ca.pem" "$pdir/ca.crt"
        if [ "$quick" = 1 ]; then n_small=10 n_big=2; else n_small=30 n_big=5; fi
        peer_run() { # label reserve op key pdf n
            local line
            ln -sf "$dir/$5" "$pdir/$5"
            if ! line=$(cd "$pdir" && RESERVE=$2 "$py" "$bench_tools/peer_bench.py" pyhanko "$3" "$4" "$5" "$6"); then
                echo "  $1 $3 $4 $5: failed" >&2
                return 0
            fi
            echo "  $line"
            local med
            med=$(sed -n 's/.*median= *\([0-9.]*\) ms.*/\1/p' <<<"$line")
            printf '%s\t%s\t%s\t%s\t%s\n' "${5%.pdf}" "$3" "$4" "$1" "$med" >> "$results/peer.tsv"
            rm -f "$pdir"/out_pyhanko_*
        }
        for size in 1mb 100mb; do
            [ -s "$dir/$size.pdf" ] || continue
            n=$n_small
            [ "$size" = 100mb ] && n=$n_big
            for k in rsa2048 p256; do
                peer_run pyhanko 0 sign "$k" "$size.pdf" "$n"
                peer_run pyhanko+reserve 16384 sign "$k" "$size.pdf" "$n"
            done
        done
        for k in rsa2048 p256; do
            peer_run pyhanko 0 verify "$k" 1mb.pdf "$n_small"
        done
    else
        step "pyHanko skipped: no $bench_tools/peer_bench.py or no pyHanko in $py"
    fi
fi

# ---------------------------------------------------------------------------------------------
: > "$results/memory.tsv"
if [ "$memory" = 1 ]; then
    step "memory: inkan sign / verify on a ${big_mb} MB PDF under /usr/bin/time -v"
    if [ ! -x /usr/bin/time ]; then
        echo "bench.sh: /usr/bin/time is missing (apt-get install time)" >&2
        exit 1
    fi
    build_inkan
    big=$dir/big.pdf
    trap 'rm -f "$big" "$dir/big-signed.pdf" "$dir/big.pdf.tmp"' EXIT
    # A valid PDF of 50 pages, each with one incompressible uncompressed RGB image: quick to
    # write (make_pdf.py would take minutes for this size), and as large as asked.
    python3 - "$big.tmp" "$big_mb" <<'EOF'
import os, sys
out, mb = sys.argv[1], int(sys.argv[2])
pages = 50
side = int(((mb << 20) // pages // 3) ** 0.5)
offsets = []
with open(out, "wb") as f:
    def put(b):
        offsets.append(f.tell()); f.write(b)
    f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    kids = " ".join(f"{4 + 3 * i} 0 R" for i in range(pages))
    put(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
    put(f"2 0 obj\n<< /Type /Pages /Count {pages} /Kids [{kids}] >>\nendobj\n".encode())
    put(b"3 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n")
    for i in range(pages):
        page, contents, image = 4 + 3 * i, 5 + 3 * i, 6 + 3 * i
        put(f"{page} 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 3 0 R >> /XObject << /Im0 {image} 0 R >> >> "
            f"/Contents {contents} 0 R >>\nendobj\n".encode())
        text = (f"BT /F1 14 Tf 50 800 Td (SERVICE AGREEMENT - page {i + 1}/{pages}) Tj ET "
                f"q 300 0 0 220 150 60 cm /Im0 Do Q").encode()
        put(f"{contents} 0 obj\n<< /Length {len(text)} >>\nstream\n".encode() + text
            + b"\nendstream\nendobj\n")
        n = side * side * 3
        put(f"{image} 0 obj\n<< /Type /XObject /Subtype /Image /Width {side} /Height {side} "
            f"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Length {n} >>\nstream\n".encode())
        left = n
        while left:
            chunk = min(left, 8 << 20); f.write(os.urandom(chunk)); left -= chunk
        f.write(b"\nendstream\nendobj\n")
    xref = f.tell()
    f.write(f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f\r\n".encode())
    for o in offsets:
        f.write(f"{o:010} 00000 n\r\n".encode())
    f.write(f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
EOF
    mv -f "$big.tmp" "$big"
    echo "  $(stat -c %s "$big") bytes  $big"
    measure() { # label command...
        local label=$1 log=$results/time-$1.log rc=0
        shift
        /usr/bin/time -v "$@" > "$results/$label.out" 2> "$log" || rc=$?
        local rss wall
        rss=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$log")
        wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): *//p' "$log")
        echo "  $label: exit $rc, peak RSS ${rss} kB, wall $wall"
        printf '%s\t%s\t%s\t%s\n' "$label" "$rc" "$rss" "$wall" >> "$results/memory.tsv"
    }
    measure sign "$inkan" sign "$big" -o "$dir/big-signed.pdf" \
        --key "$dir/pki/rsa2048.key" --cert "$dir/pki/rsa2048.pem" --chain "$dir/pki/ca.pem"
    measure verify "$inkan" verify "$dir/big-signed.pdf" --trust "$dir/pki/root.pem"
    rm -f "$big" "$dir/big-signed.pdf"
fi

# ---------------------------------------------------------------------------------------------
: > "$results/oneshot.tsv"
if [ "$oneshot" = 1 ] && [ ! -s "$dir/1mb.pdf" ]; then
    step "one shot skipped: no $dir/1mb.pdf (make_pdf.py needs reportlab and Pillow, or run criterion)"
elif [ "$oneshot" = 1 ]; then
    step "one shot: inkan sign against openssl cms -sign on 1mb.pdf, whole processes"
    build_inkan
    odir=$dir/oneshot
    rm -rf "$odir"
    mkdir -p "$odir"
    if [ "$quick" = 1 ]; then runs=20; else runs=100; fi
    # wall LABEL COMMAND...: median and fastest wall time of RUNS runs after 5 warm-up runs, from
    # the start of the process to its exit, into oneshot.tsv.
    wall() {
        local label=$1 med min
        shift
        if command -v hyperfine >/dev/null; then
            hyperfine -N --style none --warmup 5 --runs "$runs" \
                --export-json "$odir/$label.json" -- "$(printf '%q ' "$@")" >/dev/null
            read -r med min < <(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(r["median"] * 1e3, r["min"] * 1e3)' "$odir/$label.json")
        else
            read -r med min < <(python3 - "$runs" "$@" <<'PY'
import statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for i in range(5 + runs):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if i >= 5:
        times.append(time.perf_counter() - start)
print(statistics.median(times) * 1e3, min(times) * 1e3)
PY
)
        fi
        printf '  %-16s median %7.2f ms  fastest %7.2f ms\n' "$label" "$med" "$min"
        printf '%s\t%s\t%s\n' "$label" "$med" "$min" >> "$results/oneshot.tsv"
    }
    echo "  ($(command -v hyperfine >/dev/null && hyperfine --version || echo 'a Python loop'), $runs runs each)"
    wall inkan-version "$inkan" --version
    for k in rsa2048 p256; do
        # openssl: a detached CMS in DER over the same file with the same key and chain, SHA-256,
        # and CAdES signed attributes (content type, signing time, message digest, ESS
        # signing-certificate-v2); inkan: a PAdES B-B signature of the same (content type,
        # message digest, signing-certificate-v2) written into a copy of the PDF.
        wall "openssl-$k" openssl cms -sign -binary -cades -nosmimecap -md sha256 \
            -in "$dir/1mb.pdf" -signer "$dir/pki/$k.pem" -inkey "$dir/pki/$k.key" \
            -certfile "$dir/pki/ca.pem" -outform DER -out "$odir/$k.p7s"
        wall "inkan-$k" "$inkan" sign "$dir/1mb.pdf" -o "$odir/$k.pdf" \
            --key "$dir/pki/$k.key" --cert "$dir/pki/$k.pem" --chain "$dir/pki/ca.pem"
    done
fi

# ---------------------------------------------------------------------------------------------
: > "$results/contracts.log"
if [ "$contracts" = 1 ]; then
    step "contracts end to end: cargo bench -p inkan --bench contracts (the real inkan serve)"
    if [ "$quick" = 1 ]; then
        export INKAN_BENCH_CONTRACTS=${INKAN_BENCH_CONTRACTS:-8}
        export INKAN_BENCH_OUTSIDE_CONTRACTS=${INKAN_BENCH_OUTSIDE_CONTRACTS:-4}
        export INKAN_BENCH_SIGN_SAMPLES=${INKAN_BENCH_SIGN_SAMPLES:-3}
        export INKAN_BENCH_BIG_SAMPLES=${INKAN_BENCH_BIG_SAMPLES:-1}
    fi
    (cd "$root" && cargo bench -p inkan --bench contracts) 2>&1 | tee "$results/contracts.log"
fi

# ---------------------------------------------------------------------------------------------
step "results (medians; criterion: one core, in-memory input, output to io::sink(); one shot: whole processes)"
status=0
python3 - "$results" "$big_mb" <<'EOF' || status=$?
import json, os, sys
res, big_mb = sys.argv[1], sys.argv[2]
crit = os.path.join(res, "criterion")

def med(group, op, key):
    p = os.path.join(crit, group, op, key, "new", "estimates.json")
    try:
        return json.load(open(p))["median"]["point_estimate"] / 1e6  # ms
    except OSError:
        return None

peer = {}
for line in open(os.path.join(res, "peer.tsv")):
    size, op, key, label, ms = line.rstrip("\n").split("\t")
    if ms:
        peer[(size, op, key, label)] = float(ms)

def f(v, unit=" ms"):
    return "-" if v is None else (f"{v:.2f}{unit}" if v < 100 else f"{v:.0f}{unit}")

def r(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}x"

hdr = ("size", "key", "floor", "inkan sign", "inkan/floor", "pyhanko", "pyh+reserve",
       "pyhanko/inkan", "pyh+res/inkan", "inkan verify", "verify/floor")
rows = []
for size in ("1mb", "100mb"):
    for key in ("rsa2048", "p256"):
        fl, sg, vf = med(size, "floor", key), med(size, "sign", key), med(size, "verify", key)
        if fl is None and sg is None:
            continue
        ph = peer.get((size, "sign", key, "pyhanko"))
        pr = peer.get((size, "sign", key, "pyhanko+reserve"))
        rows.append((size, key, f(fl), f(sg), r(sg, fl), f(ph), f(pr), r(ph, sg), r(pr, sg),
                     f(vf), r(vf, fl)))
w = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
for row in (hdr, *rows) if rows else ():
    print("  " + "  ".join(str(x).rjust(n) for x, n in zip(row, w)))

parts = [(op, key) for op, key in (("open", "doc"), ("sha256", "file"), ("key-op", "rsa2048"),
         ("cms", "rsa2048"), ("cms-dry", "rsa2048"), ("sign-file", "rsa2048"), ("key-op", "p256"),
         ("cms", "p256"), ("cms-dry", "p256"), ("sign-file", "p256")) if med("1mb-parts", op, key)]
if parts:
    print("\n  1 MB parts: " + ", ".join(f"{op}/{key} {f(med('1mb-parts', op, key))}" for op, key in parts))
for key in ("rsa2048", "p256"):
    v = peer.get(("1mb", "verify", key, "pyhanko"))
    if v:
        print(f"  pyHanko validation 1mb/{key}: {f(v)} (inkan {f(med('1mb', 'verify', key))}, "
              f"ratio {r(v, med('1mb', 'verify', key))})")

mem = {}
for line in open(os.path.join(res, "memory.tsv")):
    label, rc, rss, wall = line.rstrip("\n").split("\t")
    mem[label] = (int(rc), int(rss) if rss else None, wall)
for label, (rc, rss, wall) in mem.items():
    print(f"  inkan {label} {big_mb} MB: exit {rc}, peak RSS {rss / 1024:.1f} MB, wall {wall}"
          if rss else f"  inkan {label}: exit {rc}, no figures")

one = {}
for line in open(os.path.join(res, "oneshot.tsv")):
    label, median, _fastest = line.rstrip("\n").split("\t")
    one[label] = float(median)
if one:
    print(f"\n  one shot on 1 MB, whole processes (`inkan --version` alone: {f(one.get('inkan-version'))}):")
    for key in ("rsa2048", "p256"):
        a, b = one.get(f"inkan-{key}"), one.get(f"openssl-{key}")
        print(f"  {key}: inkan sign {f(a)}, openssl cms -sign {f(b)}, inkan/openssl {r(a, b)}")

print("\n  goals:")
def goal(text, ok):
    print(f"  [{'n/a ' if ok is None else ('MET ' if ok else 'MISS')}] {text}")
    return ok
rsa_s, rsa_f = med("1mb", "sign", "rsa2048"), med("1mb", "floor", "rsa2048")
ec_s, ec_f = med("1mb", "sign", "p256"), med("1mb", "floor", "p256")
ph = peer.get(("1mb", "sign", "rsa2048", "pyhanko"))
ok = [
    goal(f"RSA-2048 1 MB signing < 2x floor ({r(rsa_s, rsa_f)})",
         None if None in (rsa_s, rsa_f) else rsa_s < 2 * rsa_f),
    goal(f"RSA-2048 1 MB signing >= 20x faster than pyHanko default ({r(ph, rsa_s)})",
         None if None in (rsa_s, ph) else ph >= 20 * rsa_s),
    goal(f"P-256 1 MB signing < 2x floor ({r(ec_s, ec_f)})",
         None if None in (ec_s, ec_f) else ec_s < 2 * ec_f),
]
s100, f100 = med("100mb", "sign", "p256"), med("100mb", "floor", "p256")
if s100 and f100:
    goal(f"(also) P-256 100 MB signing < 2x floor ({r(s100, f100)})", s100 < 2 * f100)
m = mem.get("sign")
ok.append(goal(f"signing a {big_mb} MB PDF: peak RSS < 100 MB "
               f"({'-' if not m or not m[1] else f'{m[1] / 1024:.1f} MB'})",
               None if not m or not m[1] else m[0] == 0 and m[1] < 100 * 1024))
for key, name in (("rsa2048", "RSA-2048"), ("p256", "P-256")):
    a, b = one.get(f"inkan-{key}"), one.get(f"openssl-{key}")
    ok.append(goal(f"{name} 1 MB one-shot inkan sign <= 2x openssl cms -sign ({r(a, b)})",
                   None if None in (a, b) else a <= 2 * b))
sys.exit(1 if False in ok else 0)
EOF
if [ -s "$results/contracts.log" ]; then
    echo
    echo "  contracts end to end (crates/inkan/benches/contracts/):"
    sed -n '/^machine:/,$p' "$results/contracts.log" | sed 's/^/  /'
fi
step "done (results in $results; load average now $(load))"
exit $status
