#include "gpu_info.h"

#ifdef LMZIP_WITH_CUDA
#include <cublas_api.h>
#include <cuda_runtime.h>
#endif

namespace lmzip {

GpuRuntime gpu_runtime() {
  GpuRuntime r;
#ifdef LMZIP_WITH_CUDA
  r.built_with_cuda = true;
  r.architectures = LMZIP_CUDA_ARCHITECTURES;
  cudaRuntimeGetVersion(&r.runtime_version);
  cudaDriverGetVersion(&r.driver_version);  // 0 without libcuda.so.1
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS)
    r.cublas_version = major * 10000 + minor * 100 + patch;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    r.error = cudaGetErrorString(err);
    return r;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    r.devices.push_back({p.name, p.major, p.minor, p.multiProcessorCount, uint64_t(p.totalGlobalMem)});
  }
  if (count == 0) r.error = "no CUDA device";
#endif
  return r;
}

}  // namespace lmzip
