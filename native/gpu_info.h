// What decides the GPU's numbers besides the binary itself: each CUDA device's model,
// compute capability and multiprocessor count (ggml's stream-k matrix kernels and cuBLAS
// split their work by it), and the cuBLAS library the dynamic loader found. Part of the
// numeric profile of GPU-written files (src/profile.ts, docs/GPU.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lmzip {

struct GpuDevice {
  std::string name;            // e.g. "NVIDIA H200"
  int cc_major = 0, cc_minor = 0;
  int multiprocessors = 0;
  uint64_t memory_bytes = 0;
};

struct GpuRuntime {
  bool built_with_cuda = false;   // false: a CPU-only build; nothing else is set
  std::string architectures;      // the CUDA architectures compiled in, e.g. "800,860,890,900"
  int runtime_version = 0;        // the CUDA runtime linked in, e.g. 13000
  int driver_version = 0;         // the CUDA version the driver supports; 0: no driver
  int cublas_version = 0;         // major*10000 + minor*100 + patch of the loaded cuBLAS
  std::string error;              // why there are no devices (no driver, no GPU), or empty
  std::vector<GpuDevice> devices;
};

// Asks the CUDA runtime; cheap after the first call. Never throws.
GpuRuntime gpu_runtime();

}  // namespace lmzip
