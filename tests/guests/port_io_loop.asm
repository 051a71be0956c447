; Exit-latency guest for bench/port_io_exit: 20000 writes to port 0x80 (each one a
; port-I/O exit to the monitor), then a write to port 0xf4 that ends the run.
%include "bzimage.inc"
%define ITERATIONS 20000
    mov ecx, ITERATIONS
    xor eax, eax
.loop:
    out 0x80, al
    dec ecx
    jnz .loop
    mov dx, DEBUG_EXIT
    out dx, eax
.spin:
    hlt
    jmp .spin
