; Memory-overhead guest for bench/memory_overhead: writes one byte to every 4 KiB page
; of [16 MiB, 80 MiB) — 64 MiB of guest memory touched — then powers off.
%include "bzimage.inc"
%include "guest_macros.inc"
    mov rdi, 16 * 1024 * 1024
    mov rcx, 64 * 1024 * 1024 / 4096
.loop:
    mov byte [rdi], 1
    add rdi, 4096
    dec rcx
    jnz .loop
    power_off
