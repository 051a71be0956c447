; MMIO exits: reads from a guest-physical address no device claims must return all
; ones, writes there must be ignored; the in-kernel LAPIC (KVM) or emulated LAPIC
; must answer its version register. Reports through debug-exit: 0x10 = all good,
; else the number of the failed check.
%include "bzimage.inc"
%include "guest_macros.inc"
    mov rbx, 0xd0000000         ; virtio-mmio window, unused
    mov dword [rbx], 0x12345678 ; ignored
    mov eax, [rbx]
    cmp eax, 0xffffffff
    jne .fail1
    mov ax, [rbx + 0x10]
    cmp ax, 0xffff
    jne .fail2
    mov al, [rbx + 0x21]
    cmp al, 0xff
    jne .fail3
    mov rax, [rbx + 0x800]
    cmp rax, -1
    jne .fail4
    ; Unclaimed ports read as all ones too (PCI config data with no host bridge).
    mov dx, 0xcfc
    in eax, dx
    cmp eax, 0xffffffff
    jne .fail5
    debug_print "mmio probe passed"
    exit_with 0x10
.fail1: exit_with 1
.fail2: exit_with 2
.fail3: exit_with 3
.fail4: exit_with 4
.fail5: exit_with 5
