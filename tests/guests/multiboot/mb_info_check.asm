; Checks the Multiboot entry state and every field of the information structure
; against what the integration test passes:
;   vireo run --kernel .../mb_info_check.elf --memory 64M --device debug-exit
;     --cmdline "mb-test answer=42 mod1=<path1> mod2=<path2>" --initrd <path1>,<path2>
; where module 1 is 5000 bytes starting "MODULE-ONE" and ending "END1", module 2 is
; 12345 bytes starting "MODULE-TWO" and ending "END2". Exits through debug-exit with
; EXIT_PASSED (0x10) or the number of the first failed check (never 16), after
; printing which check failed on the debug console.
%include "mb_common.inc"

multiboot_header MB_PAGE_ALIGN | MB_MEMORY_INFO

%define RAM_BYTES           (64 * 1024 * 1024)
%define REQUIRED_INFO_FLAGS ((1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9))
%define MOD1_SIZE           5000
%define MOD2_SIZE           12345

bits 32
extern kernel_end              ; from linker.ld
section .text
global _start
_start:
    ; Save what the loader handed over before touching anything.
    mov [boot_eax], eax
    mov [boot_ebx], ebx
    pushfd                          ; uses the loader's ESP: undefined, but vireo gives one
    pop dword [boot_eflags]
    mov esp, stack_top
    cld

    ; 1: EAX holds the boot loader magic.
    cmp dword [boot_eax], MB_BOOT_MAGIC
    fail_unless je, 1, "check 1 failed: EAX is not 0x2BADB002"

    ; 2: protected mode with paging off, interrupts off (spec 3.2).
    mov eax, cr0
    and eax, 0x80000001
    cmp eax, 1
    fail_unless je, 2, "check 2 failed: CR0.PE is clear or CR0.PG is set"
    test dword [boot_eflags], (1 << 9) | (1 << 17)
    fail_unless jz, 2, "check 2 failed: EFLAGS.IF or EFLAGS.VM is set"

    ; Own GDT (the loader's may be gone, spec 3.2), and reload every segment register.
    lgdt [gdt_descriptor]
    jmp 0x08:.reloaded
.reloaded:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax

    mov ebx, [boot_ebx]

    ; 3: the flags announce memory sizes, command line, modules, memory map, loader name.
    mov eax, [ebx + MBI_FLAGS]
    and eax, REQUIRED_INFO_FLAGS
    cmp eax, REQUIRED_INFO_FLAGS
    fail_unless je, 3, "check 3 failed: information flags lack mem, cmdline, mods, mmap or boot_loader_name"

    ; 4, 5: memory sizes in KiB.
    cmp dword [ebx + MBI_MEM_LOWER], 639
    fail_unless je, 4, "check 4 failed: mem_lower is not 639"
    cmp dword [ebx + MBI_MEM_UPPER], RAM_BYTES / 1024 - 1024
    fail_unless je, 5, "check 5 failed: mem_upper is not the KiB from 1 MiB to the end of 64 MiB"

    ; 6: the command line starts with the kernel's path ("/.../mb_info_check.elf").
    mov esi, [ebx + MBI_CMDLINE]
    mov [cmdline], esi
    cmp byte [esi], '/'
    fail_unless je, 6, "check 6 failed: the command line does not start with the kernel's path"
    call word_end
    mov [after_path], esi
    sub esi, kernel_name_len
    cmp esi, [cmdline]
    fail_unless jae, 6, "check 6 failed: the first word of the command line is too short to be the kernel's path"
    mov edi, kernel_name
    mov ecx, kernel_name_len
    repe cmpsb
    fail_unless je, 6, "check 6 failed: the first word of the command line is not the kernel's path"

    ; 7: then one space and the user's command line.
    mov esi, [after_path]
    cmp byte [esi], ' '
    fail_unless je, 7, "check 7 failed: no space after the kernel's path"
    inc esi
    mov edi, expected_args
    call starts_with
    fail_unless je, 7, "check 7 failed: the command line is not '<path> mb-test answer=42 mod1=...'"
    mov [mod1_value], esi
    call word_end
    mov edi, mod2_key
    call starts_with
    fail_unless je, 7, "check 7 failed: no ' mod2=' after mod1= on the command line"
    mov [mod2_value], esi

    ; 8: two modules.
    cmp dword [ebx + MBI_MODS_COUNT], 2
    fail_unless je, 8, "check 8 failed: mods_count is not 2"
    mov ebp, [ebx + MBI_MODS_ADDR]

    ; 9-12: module 1 (page-aligned above the kernel, its size, contents and string).
    mov eax, [ebp + 0]
    test eax, 0xfff
    fail_unless jz, 9, "check 9 failed: module 1 is not page-aligned"
    cmp eax, kernel_end
    fail_unless jae, 9, "check 9 failed: module 1 overlaps the kernel"
    mov eax, [ebp + 4]
    sub eax, [ebp + 0]
    cmp eax, MOD1_SIZE
    fail_unless je, 10, "check 10 failed: module 1 is not 5000 bytes long (mod_end - mod_start)"
    mov esi, [ebp + 0]
    mov edi, mod1_head
    mov ecx, 10
    repe cmpsb
    fail_unless je, 11, "check 11 failed: module 1 does not start with MODULE-ONE"
    mov esi, [ebp + 4]
    sub esi, 4
    mov edi, mod1_tail
    mov ecx, 4
    repe cmpsb
    fail_unless je, 11, "check 11 failed: module 1 does not end with END1"
    mov esi, [mod1_value]
    mov edi, [ebp + 8]
    call word_equals
    fail_unless je, 12, "check 12 failed: module 1's string is not the path given as mod1="

    ; 13-15, 17: module 2, after module 1.
    mov eax, [ebp + 16]
    test eax, 0xfff
    fail_unless jz, 13, "check 13 failed: module 2 is not page-aligned"
    cmp eax, [ebp + 4]
    fail_unless jae, 13, "check 13 failed: module 2 overlaps module 1"
    mov eax, [ebp + 20]
    sub eax, [ebp + 16]
    cmp eax, MOD2_SIZE
    fail_unless je, 14, "check 14 failed: module 2 is not 12345 bytes long"
    mov esi, [ebp + 16]
    mov edi, mod2_head
    mov ecx, 10
    repe cmpsb
    fail_unless je, 15, "check 15 failed: module 2 does not start with MODULE-TWO"
    mov esi, [ebp + 20]
    sub esi, 4
    mov edi, mod2_tail
    mov ecx, 4
    repe cmpsb
    fail_unless je, 15, "check 15 failed: module 2 does not end with END2"
    mov esi, [mod2_value]
    mov edi, [ebp + 24]
    call word_equals
    fail_unless je, 17, "check 17 failed: module 2's string is not the path given as mod2="

    ; 18-20: the memory map: entries of 20 bytes (plus the size field), RAM from 0
    ; (at least 639 KiB) and from 1 MiB to the end of the 64 MiB.
    mov esi, [ebx + MBI_MMAP_ADDR]
    mov edi, esi
    add edi, [ebx + MBI_MMAP_LENGTH]
    xor ebp, ebp                    ; bit 0: low RAM seen, bit 1: upper RAM seen
.mmap_next:
    cmp esi, edi
    jae .mmap_done
    cmp dword [esi], 20
    fail_unless je, 18, "check 18 failed: a memory map entry's size is not 20"
    cmp dword [esi + 20], 1         ; type: available RAM
    jne .mmap_step
    cmp dword [esi + 8], 0          ; base_addr high half
    jne .mmap_step
    cmp dword [esi + 16], 0         ; length high half
    jne .mmap_step
    cmp dword [esi + 4], 0
    jne .mmap_upper
    cmp dword [esi + 12], 639 * 1024
    jb .mmap_step
    or ebp, 1
    jmp .mmap_step
.mmap_upper:
    cmp dword [esi + 4], 0x100000
    jne .mmap_step
    cmp dword [esi + 12], RAM_BYTES - 0x100000
    jne .mmap_step
    or ebp, 2
.mmap_step:
    add esi, [esi]
    add esi, 4
    jmp .mmap_next
.mmap_done:
    cmp esi, edi
    fail_unless je, 18, "check 18 failed: the memory map's entries do not add up to mmap_length"
    test ebp, 1
    fail_unless jnz, 19, "check 19 failed: no RAM entry for the first 639 KiB in the memory map"
    test ebp, 2
    fail_unless jnz, 20, "check 20 failed: no RAM entry from 1 MiB to 64 MiB in the memory map"

    ; 21: the boot loader's name.
    mov esi, [ebx + MBI_BOOT_LOADER]
    mov edi, loader_name
    call word_equals
    fail_unless je, 21, "check 21 failed: boot_loader_name is not 'vireo'"

    ; 22: page 0 and low memory are ordinary RAM.
    mov dword [0], 0x5a5aa5a5
    mov dword [0x7ffc], 0x12345678
    cmp dword [0], 0x5a5aa5a5
    fail_unless je, 22, "check 22 failed: page 0 does not keep what was written"
    cmp dword [0x7ffc], 0x12345678
    fail_unless je, 22, "check 22 failed: low memory does not keep what was written"

    debug_print "multiboot info check passed"
    exit_with EXIT_PASSED

; esi = text: advances esi to the first space or NUL.
word_end:
    cmp byte [esi], ' '
    je .done
    cmp byte [esi], 0
    je .done
    inc esi
    jmp word_end
.done:
    ret

; esi = text, edi = NUL-terminated prefix: ZF = 1 when the text starts with the prefix,
; and then esi points past it.
starts_with:
    push eax
.loop:
    mov al, [edi]
    test al, al
    jz .out                         ; ZF = 1
    cmp al, [esi]
    jne .out                        ; ZF = 0
    inc esi
    inc edi
    jmp .loop
.out:
    pop eax
    ret

; esi = a word (ended by a space or NUL), edi = NUL-terminated string: ZF = 1 when equal.
word_equals:
    push eax
.loop:
    mov al, [esi]
    cmp al, ' '
    jne .compare
    xor al, al
.compare:
    cmp al, [edi]
    jne .out                        ; ZF = 0
    test al, al
    jz .out                         ; ZF = 1
    inc esi
    inc edi
    jmp .loop
.out:
    pop eax
    ret

section .rodata
kernel_name:    db "/mb_info_check.elf"
kernel_name_len equ $ - kernel_name
expected_args:  db "mb-test answer=42 mod1=", 0
mod2_key:       db " mod2=", 0
mod1_head:      db "MODULE-ONE"
mod1_tail:      db "END1"
mod2_head:      db "MODULE-TWO"
mod2_tail:      db "END2"
loader_name:    db "vireo", 0

section .data
align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF           ; 0x08: flat 32-bit code
    dq 0x00CF92000000FFFF           ; 0x10: flat data
gdt_end:
gdt_descriptor:
    dw gdt_end - gdt - 1
    dd gdt

section .bss
alignb 16
boot_eax:    resd 1
boot_ebx:    resd 1
boot_eflags: resd 1
cmdline:     resd 1
after_path:  resd 1
mod1_value:  resd 1
mod2_value:  resd 1
stack:       resb 8192
stack_top:
