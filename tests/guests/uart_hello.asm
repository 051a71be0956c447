; Drives COM1 like a polled driver: programs the divisor latch, checks the scratch
; register, writes a line when the transmitter holding register is empty, then
; powers the machine off through the ACPI sleep control register.
%include "bzimage.inc"
%include "guest_macros.inc"

    ; 8N1, divisor 1 (115200 baud) through DLAB.
    mov dx, COM1 + 3
    mov al, 0x80
    out dx, al
    mov dx, COM1 + 0
    mov al, 1
    out dx, al
    mov dx, COM1 + 1
    xor al, al
    out dx, al
    mov dx, COM1 + 3
    mov al, 0x03
    out dx, al
    ; Scratch register must hold a value.
    mov dx, COM1 + 7
    mov al, 0x5a
    out dx, al
    in al, dx
    cmp al, 0x5a
    jne .bad
    lea rsi, [message]
.next:
    mov bl, [rsi]
    test bl, bl
    jz .done
.wait:
    mov dx, COM1 + 5        ; LSR
    in al, dx
    test al, 0x20           ; THRE
    jz .wait
    mov dx, COM1
    mov al, bl
    out dx, al
    inc rsi
    jmp .next
.done:
    power_off
.bad:
    debug_print "uart scratch register did not hold its value"
    mov al, 0xfe            ; i8042 reset: vireo ends, but the test sees no message
    out 0x64, al
    hlt

message: db "hello from the vireo uart", 13, 10, 0
