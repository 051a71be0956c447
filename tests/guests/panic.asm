; Announces a kernel panic through the pvpanic register, as Linux's pvpanic driver
; does: read the supported events, then write "panicked".
%include "bzimage.inc"
%include "guest_macros.inc"
    mov dx, 0x505
    in al, dx
    test al, 1
    jz .unsupported
    debug_print "guest panicking"
    mov al, 1
    mov dx, 0x505
    out dx, al
.spin:
    hlt
    jmp .spin
.unsupported:
    exit_with 7
