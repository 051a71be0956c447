; Checks, from inside the guest, what vireo's 64-bit Linux boot path set up: the zero
; page (boot_params), the e820 map, the command line, the initrd and the CPU state.
; The test runs it with: --memory 64M --cmdline "vireo-boot-check answer=42" and an
; initrd that starts with "VIREO-INITRD-OK!" and ends with "END!".
; Reports through debug-exit: 0x10 when every check passed, else the failed check's
; number (and its name on the debug console).
%include "bzimage.inc"
%include "guest_macros.inc"

%macro check 2          ; check condition-code, number: fail unless the flags say cc
    j%-1 %%bad
    jmp %%ok
%%bad:
    mov r14d, %2
    jmp fail
%%ok:
%endmacro

    mov r15, rsi                        ; boot_params
    ; 1: interrupts off at entry
    pushfq
    pop rax
    test eax, 0x200
    check z, 1
    ; 2: boot_params carries the setup header
    cmp dword [r15 + 0x202], 'HdrS'
    check e, 2
    ; 3: the loader identified itself (type_of_loader 0xff: undefined loader)
    cmp byte [r15 + 0x210], 0xff
    check e, 3
    ; 4: command line
    mov esi, [r15 + 0x228]
    lea rdi, [expected_cmdline]
    mov ecx, expected_cmdline_len
    repe cmpsb
    check e, 4
    cmp byte [rsi], 0                   ; NUL-terminated right after
    check e, 5
    ; 6: initrd placed, page-aligned, contents intact at both ends
    mov esi, [r15 + 0x218]              ; ramdisk_image
    test esi, esi
    check nz, 6
    test esi, 0xfff
    check z, 7
    lea rdi, [initrd_magic]
    mov ecx, 16
    repe cmpsb
    check e, 8
    mov esi, [r15 + 0x218]
    add esi, [r15 + 0x21c]              ; + ramdisk_size
    cmp dword [rsi - 4], 'END!'
    check e, 9
    ; 10: initrd lies inside RAM (64 MiB)
    cmp esi, 64 * 1024 * 1024
    check be, 10
    ; 11: e820: at least 3 entries; the first is RAM from 0
    movzx ecx, byte [r15 + 0x1e8]
    cmp ecx, 3
    check ae, 11
    cmp qword [r15 + 0x2d0], 0          ; entry 0 addr
    check e, 12
    cmp dword [r15 + 0x2d0 + 16], 1     ; entry 0 type RAM
    check e, 13
    ; 14: an e820 RAM entry from 1 MiB to the end of the 64 MiB
    lea rbx, [r15 + 0x2d0]
.e820_loop:
    cmp qword [rbx], 0x100000
    jne .e820_next
    mov rax, [rbx]
    add rax, [rbx + 8]
    cmp rax, 64 * 1024 * 1024
    check e, 14
    cmp dword [rbx + 16], 1
    check e, 15
    jmp .e820_done
.e820_next:
    add rbx, 20
    dec ecx
    jnz .e820_loop
    mov r14d, 14
    jmp fail
.e820_done:
    ; 16: paging and protection on, PAE, long mode active
    mov rax, cr0
    and eax, 0x80000001
    cmp eax, 0x80000001
    check e, 16
    mov rax, cr4
    test eax, 0x20
    check nz, 17
    mov ecx, 0xc0000080
    rdmsr
    and eax, 0x500
    cmp eax, 0x500
    check e, 18
    ; 19: segments are the boot protocol's __BOOT_CS / __BOOT_DS
    mov ax, cs
    cmp ax, 0x10
    check e, 19
    mov ax, ds
    cmp ax, 0x18
    check e, 20
    mov ax, ss
    cmp ax, 0x18
    check e, 21
    ; 22: the ACPI RSDP pointer in boot_params points at an RSDP
    mov rsi, [r15 + 0x70]
    test rsi, rsi
    check nz, 22
    mov rax, 'RSD PTR '
    cmp [rsi], rax
    check e, 23
    debug_print "boot check passed"
    exit_with 0x10

fail:
    debug_print "boot check failed"
    mov eax, r14d
    mov dx, DEBUG_EXIT
    out dx, eax
.spin:
    hlt
    jmp .spin

expected_cmdline: db "vireo-boot-check answer=42"
expected_cmdline_len equ $ - expected_cmdline
initrd_magic: db "VIREO-INITRD-OK!"
