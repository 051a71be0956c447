; Loads an empty IDT and raises an exception: no handler, no double-fault handler,
; so the CPU shuts down (a triple fault). vireo must report it and exit non-zero.
%include "bzimage.inc"
%include "guest_macros.inc"
    debug_print "about to triple-fault"
    lidt [empty_idt]
    ud2
.spin:
    hlt
    jmp .spin
empty_idt:
    dw 0
    dq 0
