#!/bin/sh
# Builds {{name}}.wasm: bindings from the contract in wit/, the C files
# compiled for wasm32-wasi, the module wrapped into a component with the
# WASI preview1 adapter. Each tool can be named by its variable.
set -eu
cd "$(dirname "$0")"
ZIG_CC=${ZIG_CC:-"python3 -m ziglang cc"}
WIT_BINDGEN=${WIT_BINDGEN:-wit-bindgen}
WASM_TOOLS=${WASM_TOOLS:-wasm-tools}
mkdir -p build
"$WIT_BINDGEN" c --world {{world}} --out-dir build wit
# A 128 KiB stack: Zig's default would make the first memory 16 MiB.
$ZIG_CC -target wasm32-wasi -mexec-model=reactor -O2 -s -Wl,-z,stack-size=131072 \
  -Wall -Wextra {{c_flags}}-I build -I . \
  build/{{world_c}}.c build/{{world_c}}_component_type.o sinkbox_sink.c {{c_sources}}sink.c \
  -o build/module.wasm
"$WASM_TOOLS" component new build/module.wasm --adapt wasi_snapshot_preview1.reactor.wasm -o {{name}}.wasm
echo "wrote {{name}}.wasm"
