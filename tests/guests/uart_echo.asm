; Interrupt-driven serial input: routes COM1's IRQ 4 through the IOAPIC to the LAPIC,
; takes the interrupt through its own IDT, echoes every received byte back to COM1
; (lower-case letters in upper case, so a test can tell the guest's echo from a
; terminal's), and powers off when it receives 'q'. Exercises the UART's receive path and IRQ
; line, the interrupt controllers and IDT delivery.
%include "bzimage.inc"
%include "guest_macros.inc"

%define IOAPIC 0xfec00000
%define LAPIC 0xfee00000
%define VECTOR 0x24

    ; Mask both 8259s: the interrupt must come through the IOAPIC.
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    ; IDT: one gate for VECTOR (and one for the spurious vector 0xff), both to handlers here.
    lea rdi, [idt]
    lea rax, [uart_isr]
    mov ebx, VECTOR
    call set_gate
    lea rax, [spurious_isr]
    mov ebx, 0xff
    call set_gate
    lidt [idt_ptr]
    ; LAPIC: software enable, spurious vector 0xff, accept every priority.
    mov rbx, LAPIC
    mov dword [rbx + 0x80], 0           ; TPR
    mov dword [rbx + 0xf0], 0x1ff       ; SVR
    ; IOAPIC pin 4 -> VECTOR, fixed, physical, edge, active high, unmasked, to APIC 0.
    mov rbx, IOAPIC
    mov dword [rbx], 0x19
    mov dword [rbx + 0x10], 0
    mov dword [rbx], 0x18
    mov dword [rbx + 0x10], VECTOR
    ; UART: 8N1, receive interrupt on, OUT2 gates the IRQ line to the interrupt controller.
    mov dx, COM1 + 3
    mov al, 0x03
    out dx, al
    mov dx, COM1 + 4
    mov al, 0x0b                        ; DTR | RTS | OUT2
    out dx, al
    mov dx, COM1 + 1
    mov al, 0x01                        ; IER: received data available
    out dx, al
    debug_print "echo ready"
    sti
.idle:
    hlt
    jmp .idle

; rax = handler, ebx = vector, rdi = IDT base
set_gate:
    shl rbx, 4
    add rbx, rdi
    mov [rbx], ax                       ; offset 15:0
    mov word [rbx + 2], 0x10            ; selector: boot code segment
    mov word [rbx + 4], 0x8e00          ; present, DPL 0, 64-bit interrupt gate
    shr rax, 16
    mov [rbx + 6], ax                   ; offset 31:16
    shr rax, 16
    mov [rbx + 8], eax                  ; offset 63:32
    mov dword [rbx + 12], 0
    ret

uart_isr:
    push rax
    push rdx
.drain:
    mov dx, COM1 + 5
    in al, dx
    test al, 1                          ; LSR.DR
    jz .done
    mov dx, COM1
    in al, dx
    cmp al, 'q'
    je .quit
    cmp al, 'a'
    jb .echo
    cmp al, 'z'
    ja .echo
    sub al, 'a' - 'A'
.echo:
    out dx, al                          ; echo
    jmp .drain
.done:
    mov rax, LAPIC
    mov dword [rax + 0xb0], 0           ; EOI
    pop rdx
    pop rax
    iretq
.quit:
    power_off

spurious_isr:
    iretq

align 16
idt_ptr:
    dw 256 * 16 - 1
    dq idt
align 16
idt:
    times 256 * 16 db 0
