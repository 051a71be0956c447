; Reboots through the ACPI reset register described in the FADT.
%include "bzimage.inc"
%include "guest_macros.inc"
    debug_print "resetting through the ACPI reset register"
    mov al, 1
    mov dx, ACPI_RESET
    out dx, al
.spin:
    hlt
    jmp .spin
