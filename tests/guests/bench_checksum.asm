; Benchmark guest (bench/emu_speed): an integer checksum over a 4 KiB buffer,
; compute-bound, a fixed number of iterations of 8 instructions, then exit.
%define BENCH_DEFAULT_ITERATIONS 1000000
%define BUFFER 0x200000
%include "bench_entry.inc"
    mov rdi, BUFFER
    mov rcx, [bench_iterations]
    call bench_kernel
    bench_exit

bench_kernel_header 8
    xor eax, eax
    xor edx, edx
    test rcx, rcx
    jz .done
.loop:                              ; 8 instructions per iteration
    mov r8, [rdi + rdx * 8]
    add rax, r8
    rol rax, 13
    xor rax, rcx
    inc edx
    and edx, 511                    ; wrap within the 4 KiB buffer
    dec rcx
    jnz .loop
.done:
    ret
bench_kernel_end:
