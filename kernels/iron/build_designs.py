"""Builds the NPU layer designs: final.xclbin + insts.bin for each official Whisper encoder shape.

  build_designs.py --out DIR [--shapes tiny,base,...] [--peano DIR]

Needs the mlir-aie toolchain (aiecc.py and the aie Python package) and Peano (llvm-aie: clang++ with
--target=aie2-none-unknown-elf). Both come as Python wheels from the mlir-aie and llvm-aie releases; they are
not Debian packages. Output: DIR/<layout.design_name(...)>/{final.xclbin,insts.bin}, where
open_xrt_device() looks (NPUSCRIBE_NPU_DESIGNS or <prefix>/share/npuscribe/npu).
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
KERNELS = HERE.parent
sys.path.insert(0, str(HERE))

import layout  # noqa: E402

KERNEL_SOURCES = {
    "mm_int8.o": KERNELS / "mm_int8.cc",
    "softmax_bf16.o": KERNELS / "softmax_bf16.cc",
    "gelu_bf16.o": KERNELS / "gelu_bf16.cc",
    "layernorm.o": KERNELS / "layernorm.cc",
    "layer_glue.o": HERE / "layer_glue.cc",
}


def fail(message):
    sys.stderr.write(f"build_designs.py: {message}\n")
    sys.exit(1)


def find_toolchain(peano_hint):
    aiecc = shutil.which("aiecc.py")
    if not aiecc:
        fail("aiecc.py not found: install the mlir-aie wheel (github.com/Xilinx/mlir-aie releases) and put "
             "its bin directory on PATH")
    peano_dir = peano_hint or os.environ.get("PEANO_INSTALL_DIR", "")
    clang = Path(peano_dir) / "bin" / "clang++" if peano_dir else None
    if not clang or not clang.is_file():
        fail("Peano clang++ not found: install the llvm-aie wheel and pass --peano DIR or set PEANO_INSTALL_DIR")
    try:
        import aie.iron  # noqa: F401
    except ImportError:
        fail("the mlir-aie Python package (aie.iron) is not importable by this python3")
    return aiecc, clang


def run(command, cwd):
    print("+", " ".join(str(c) for c in command), flush=True)
    result = subprocess.run(command, cwd=cwd)
    if result.returncode != 0:
        fail(f"{command[0]} failed with exit code {result.returncode}")


def main(argv):
    parser = argparse.ArgumentParser(description="Build the NPU encoder-layer designs")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--shapes", default=",".join(layout.OFFICIAL_SHAPES))
    parser.add_argument("--peano", default="")
    args = parser.parse_args(argv)

    shapes = [s for s in args.shapes.split(",") if s]
    unknown = [s for s in shapes if s not in layout.OFFICIAL_SHAPES]
    if unknown:
        fail(f"unknown shape(s) {', '.join(unknown)}: choose from {', '.join(layout.OFFICIAL_SHAPES)}")
    aiecc, clang = find_toolchain(args.peano)
    import aie  # noqa: E402

    work = args.work or args.out / "work"
    work.mkdir(parents=True, exist_ok=True)
    aie_include = Path(aie.__file__).resolve().parent.parent / "include"
    for obj, source in KERNEL_SOURCES.items():
        run([clang, "--target=aie2-none-unknown-elf", "-O2", "-std=c++20", "-DNDEBUG", f"-I{aie_include}",
             f"-I{KERNELS}", "-c", source, "-o", work / obj], cwd=work)

    import encoder_layer_design  # noqa: E402

    for shape in shapes:
        d_model, n_head, _layers = layout.OFFICIAL_SHAPES[shape]
        name = layout.design_name(d_model, n_head, layout.N_CTX)
        try:
            mlir = encoder_layer_design.build(d_model, n_head, layout.N_CTX)
        except (RuntimeError, ValueError) as error:
            fail(f"{name}: {error}")
        shape_dir = work / name
        shape_dir.mkdir(exist_ok=True)
        (shape_dir / "aie.mlir").write_text(mlir)
        for obj in KERNEL_SOURCES:
            shutil.copy(work / obj, shape_dir / obj)
        run([aiecc, "--aie-generate-xclbin", "--aie-generate-npu-insts", "--no-compile-host", "--no-xchesscc",
             "--no-xbridge", f"--peano={clang.parent.parent}", "--xclbin-name=final.xclbin",
             "--npu-insts-name=insts.bin", "aie.mlir"], cwd=shape_dir)
        target = args.out / name
        target.mkdir(parents=True, exist_ok=True)
        for produced in ("final.xclbin", "insts.bin"):
            shutil.copy(shape_dir / produced, target / produced)
        print(f"built {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
