; Benchmark guest (bench/emu_speed): a memory-copy loop, one 8-byte load and store
; per iteration (6 instructions), from a 64 KiB source to a 64 KiB destination,
; wrapping, a fixed number of iterations, then exit.
%define BENCH_DEFAULT_ITERATIONS 1000000
%define BUFFER 0x200000
%include "bench_entry.inc"
    mov rdi, BUFFER
    mov rcx, [bench_iterations]
    call bench_kernel
    bench_exit

bench_kernel_header 6
    xor edx, edx
    test rcx, rcx
    jz .done
.loop:                              ; 6 instructions per iteration
    mov rax, [rdi + rdx * 8]
    mov [rdi + rdx * 8 + 0x10000], rax
    inc edx
    and edx, 0x1fff                 ; 64 KiB of qwords
    dec rcx
    jnz .loop
.done:
    ret
bench_kernel_end:
