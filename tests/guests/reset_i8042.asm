; Reboots through the i8042 reset line (command 0xFE on port 0x64), as Linux's
; keyboard-controller reboot method does.
%include "bzimage.inc"
%include "guest_macros.inc"
    debug_print "resetting through the i8042"
    mov al, 0xfe
    out 0x64, al
.spin:
    hlt
    jmp .spin
