; A Multiboot kernel that is a flat binary (nasm -f bin): the header's flag 16 gives the
; load addresses (the "a.out kludge", Multiboot specification 3.1.3). Loaded at 2 MiB,
; entered at `start` (not the first byte), with a bss the loader must clear. Exits
; through debug-exit with EXIT_PASSED (0x10) or the number of the failed check.
%include "mb_common.inc"

%define LOAD_ADDR 0x200000
%define FLAGS (MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_ADDRESS_FIELDS)

bits 32
org LOAD_ADDR
image_start:
    ; Code before the header: entry_addr must be honoured, not the first byte.
    exit_with 1

align 4
header:
    dd MB_HEADER_MAGIC
    dd FLAGS
    dd -(MB_HEADER_MAGIC + FLAGS)
    dd header                       ; header_addr
    dd image_start                  ; load_addr
    dd image_end                    ; load_end_addr
    dd bss_end                      ; bss_end_addr
    dd start                        ; entry_addr

start:
    mov esp, stack_top
    cld
    cmp eax, MB_BOOT_MAGIC
    fail_unless je, 2, "check 2 failed: EAX is not 0x2BADB002"
    ; 3: the last bytes of the image were loaded.
    cmp dword [image_last], 0xC0FFEE42
    fail_unless je, 3, "check 3 failed: the end of the image was not loaded"
    ; 4: the bss is zero (the loader fills it; the test fills memory with junk first
    ; where it can).
    mov edi, bss_start
    mov ecx, (bss_end - bss_start) / 4
    xor eax, eax
    repe scasd
    fail_unless je, 4, "check 4 failed: the bss is not zero"
    ; 5: the information structure is there and names the loader.
    mov esi, [ebx + MBI_BOOT_LOADER]
    cmp dword [esi], 'vire'
    fail_unless je, 5, "check 5 failed: boot_loader_name does not read 'vireo'"
    debug_print "a.out-kludge kernel ran"
    exit_with EXIT_PASSED

align 4
image_last: dd 0xC0FFEE42
image_end:

; Not in the file: cleared by the loader up to bss_end_addr.
absolute image_end
alignb 16
bss_start:
stack: resb 4096
stack_top:
filler: resb 4096
bss_end:
