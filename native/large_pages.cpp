// Large buffers on 2 MiB pages (Linux).
//
// llama.cpp allocates its KV cache and compute buffers with posix_memalign (ggml's
// ggml_aligned_malloc) and then clears them, so every 4 KiB page of a fresh mapping
// takes a page fault. On our VMs a fault costs ~10 µs: creating a 16-lane context of
// 1024 cells for the SmolLM2-135M shape (360 MiB KV + 98 MiB compute buffer) took
// 1.2 s, a tenth of a 16 KiB compression, and 60-140 ms on 2 MiB pages (750 ms on
// memory the VM never backed; docs/benchmark.md, "At real size").
//
// Most distributions set transparent huge pages to `madvise`: a mapping gets them only
// when asked. The link routes posix_memalign through here (-Wl,--wrap=posix_memalign,
// CMakeLists.txt) and asks for the large ones. The memory's contents, and so every
// result, are unchanged; where the kernel refuses, nothing changes at all.
#include <cstddef>
#include <cstdint>

#include <sys/mman.h>

extern "C" int __real_posix_memalign(void** out, size_t alignment, size_t size);

extern "C" __attribute__((visibility("hidden"))) int __wrap_posix_memalign(void** out, size_t alignment, size_t size) {
  const int rc = __real_posix_memalign(out, alignment, size);
  constexpr uintptr_t kHugePage = uintptr_t(2) << 20;
  // glibc serves requests of 32 MiB and more (its largest mmap threshold) from a mapping
  // of their own, returned at free(). Smaller ones may come from an arena's heap, which
  // huge pages would keep resident after free.
  constexpr size_t kLarge = size_t(32) << 20;
  if (rc == 0 && size >= kLarge) {
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(*out) + kHugePage - 1) & ~(kHugePage - 1);
    const uintptr_t end = (reinterpret_cast<uintptr_t>(*out) + size) & ~(kHugePage - 1);
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // advice only
  }
  return rc;
}
