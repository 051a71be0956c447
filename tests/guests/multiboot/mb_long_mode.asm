; Switches itself from the Multiboot entry (32-bit protected mode, paging off) to
; 64-bit long mode, the way an x86-64 kernel's 32-bit bootstrap does (Intel SDM vol. 3,
; 10.8.5): identity page tables for the first GiB, CR4.PAE, EFER.LME, CR0.PG, a far
; jump into a 64-bit code segment. There it does 64-bit arithmetic, reads the Multiboot
; information through a 64-bit pointer, and exits through debug-exit with EXIT_PASSED
; (0x10) or the number of the failed check.
%include "mb_common.inc"

multiboot_header MB_PAGE_ALIGN | MB_MEMORY_INFO

%define MSR_EFER    0xC0000080
%define EFER_LME    (1 << 8)
%define EFER_LMA    (1 << 10)

bits 32
section .text
global _start
_start:
    mov esp, stack_top
    mov edi, ebx                    ; the information structure, kept for 64-bit code
    cld
    cmp eax, MB_BOOT_MAGIC
    fail_unless je, 1, "check 1 failed: EAX is not 0x2BADB002"

    ; 2: the CPU must offer long mode (CPUID 0x80000001 EDX.LM).
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    fail_unless jae, 2, "check 2 failed: no CPUID leaf 0x80000001"
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 29
    fail_unless jnz, 2, "check 2 failed: CPUID says the CPU has no long mode"

    ; Page tables: PML4[0] -> PDPT, PDPT[0] -> PD, 512 2-MiB identity pages.
    mov dword [pml4], pdpt + 3
    mov dword [pdpt], pd + 3
    xor ecx, ecx
.fill_pd:
    mov eax, ecx
    shl eax, 21
    or eax, 0x83                    ; present, writable, 2 MiB page
    mov [pd + ecx * 8], eax
    mov dword [pd + ecx * 8 + 4], 0
    inc ecx
    cmp ecx, 512
    jb .fill_pd

    mov eax, pml4
    mov cr3, eax
    mov eax, cr4
    or eax, 1 << 5                  ; PAE
    mov cr4, eax
    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_LME
    wrmsr
    lgdt [gdt_descriptor]
    mov eax, cr0
    or eax, (1 << 31) | 1           ; PG, PE
    mov cr0, eax
    jmp 0x08:long_mode

bits 64
long_mode:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, stack_top              ; zero-extends into rsp

    ; 3: EFER.LMA says long mode is active.
    mov ecx, MSR_EFER
    rdmsr
    test eax, EFER_LMA
    fail_unless jnz, 3, "check 3 failed: EFER.LMA is clear after enabling paging"

    ; 4: 64-bit arithmetic: 0x123456789 * 0x10001 = 0x1_2346_8ACE_6789 needs more than 32 bits.
    mov rax, 0x123456789
    mov rcx, 0x10001
    mul rcx
    mov rbx, 0x123468ACE6789
    cmp rax, rbx
    fail_unless je, 4, "check 4 failed: 64-bit multiply gave the wrong low half"
    test rdx, rdx
    fail_unless jz, 4, "check 4 failed: 64-bit multiply gave a nonzero high half"
    ; 5: 64-bit shifts and a register only long mode has.
    mov r9, 1
    shl r9, 40
    mov r10, r9
    shr r10, 39
    cmp r10, 2
    fail_unless je, 5, "check 5 failed: 64-bit shifts through r9/r10"

    ; 6: the Multiboot information, read with a 64-bit pointer (zero-extended EBX).
    mov esi, edi
    mov esi, [rsi + MBI_BOOT_LOADER]
    cmp dword [rsi], 'vire'
    fail_unless je, 6, "check 6 failed: boot_loader_name does not read 'vireo' in long mode"

    ; 7: the stack works in 64-bit mode (push/pop of a 64-bit value).
    mov rax, 0x1122334455667788
    push rax
    pop rbx
    cmp rax, rbx
    fail_unless je, 7, "check 7 failed: 64-bit push/pop"

    debug_print "long mode reached and 64-bit code ran"
    exit_with EXIT_PASSED

section .data
align 8
gdt:
    dq 0
    dq 0x00AF9A000000FFFF           ; 0x08: 64-bit code (L)
    dq 0x00CF92000000FFFF           ; 0x10: flat data
gdt_end:
gdt_descriptor:
    dw gdt_end - gdt - 1
    dd gdt

section .bss
alignb 4096
pml4:  resb 4096
pdpt:  resb 4096
pd:    resb 4096
stack: resb 8192
stack_top:
