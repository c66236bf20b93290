// cuBLAS loaded at run time instead of linked: the CUDA build then loads (and runs on the
// CPU, and tells the user what is missing) on machines without cuBLAS 13, and builds on
// machines that have only cuBLAS's headers. It defines the cuBLAS functions ggml-cuda and
// native/gpu_info.cpp call (the compiler checks each signature against cublas_api.h) and
// forwards each to libcublas.so.13, opened on first use from:
//   1. $LMZIP_CUBLAS_DIR/lib/ or $LMZIP_CUBLAS_DIR/ (e.g. pip's site-packages/nvidia/cu13,
//      the same folder the build takes),
//   2. the dynamic loader's search: LD_LIBRARY_PATH, the addon's own folder (its RUNPATH
//      is $ORIGIN), ld.so.cache (the CUDA toolkit's libraries).
// Without it every function returns CUBLAS_STATUS_NOT_INITIALIZED; lmzip's loader asks
// first (gpuInfo().cublasVersion is 0) and does not choose the GPU then (src/native.ts).
#include <cublas_v2.h>
#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

namespace {

void* cublas_library() {
  static void* lib = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    if (const char* dir = std::getenv("LMZIP_CUBLAS_DIR"); dir && *dir)
      for (const char* sub : {"/lib/libcublas.so.13", "/libcublas.so.13"})
        if (!lib) lib = dlopen((std::string(dir) + sub).c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen("libcublas.so.13", RTLD_NOW | RTLD_LOCAL);
  });
  return lib;
}

template <typename F>
F* resolve(const char* name) {
  void* lib = cublas_library();
  return lib ? reinterpret_cast<F*>(dlsym(lib, name)) : nullptr;
}

}  // namespace

// The real symbol names (cublas_v2.h maps cublasCreate to cublasCreate_v2 and so on).
#define LMZIP_STR2(x) #x
#define LMZIP_STR(x) LMZIP_STR2(x)
#define SHIM(name, params, args)                                              \
  extern "C" cublasStatus_t CUBLASWINAPI name params {                       \
    using Fn = cublasStatus_t params; /* some names are overloaded in C++ */ \
    static Fn* real = resolve<Fn>(LMZIP_STR(name));                          \
    return real ? real args : CUBLAS_STATUS_NOT_INITIALIZED;                   \
  }

SHIM(cublasCreate, (cublasHandle_t* handle), (handle))
SHIM(cublasDestroy, (cublasHandle_t handle), (handle))
SHIM(cublasSetStream, (cublasHandle_t handle, cudaStream_t stream), (handle, stream))
SHIM(cublasSetMathMode, (cublasHandle_t handle, cublasMath_t mode), (handle, mode))
SHIM(cublasSetWorkspace, (cublasHandle_t handle, void* workspace, size_t size), (handle, workspace, size))
SHIM(cublasLoggerConfigure, (int on, int to_stdout, int to_stderr, const char* file), (on, to_stdout, to_stderr, file))
SHIM(cublasGetProperty, (libraryPropertyType type, int* value), (type, value))
SHIM(cublasGemmEx,
     (cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void* alpha, const void* A,
      cudaDataType at, int lda, const void* B, cudaDataType bt, int ldb, const void* beta, void* C, cudaDataType ct, int ldc,
      cublasComputeType_t compute, cublasGemmAlgo_t algo),
     (h, ta, tb, m, n, k, alpha, A, at, lda, B, bt, ldb, beta, C, ct, ldc, compute, algo))
SHIM(cublasGemmBatchedEx,
     (cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void* alpha,
      const void* const A[], cudaDataType at, int lda, const void* const B[], cudaDataType bt, int ldb, const void* beta,
      void* const C[], cudaDataType ct, int ldc, int batch, cublasComputeType_t compute, cublasGemmAlgo_t algo),
     (h, ta, tb, m, n, k, alpha, A, at, lda, B, bt, ldb, beta, C, ct, ldc, batch, compute, algo))
SHIM(cublasGemmStridedBatchedEx,
     (cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void* alpha, const void* A,
      cudaDataType at, int lda, long long int sa, const void* B, cudaDataType bt, int ldb, long long int sb,
      const void* beta, void* C, cudaDataType ct, int ldc, long long int sc, int batch, cublasComputeType_t compute,
      cublasGemmAlgo_t algo),
     (h, ta, tb, m, n, k, alpha, A, at, lda, sa, B, bt, ldb, sb, beta, C, ct, ldc, sc, batch, compute, algo))
SHIM(cublasSgemm,
     (cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha,
      const float* A, int lda, const float* B, int ldb, const float* beta, float* C, int ldc),
     (h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc))
SHIM(cublasSgemmBatched,
     (cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha,
      const float* const A[], int lda, const float* const B[], int ldb, const float* beta, float* const C[], int ldc,
      int batch),
     (h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, batch))
SHIM(cublasSgemmStridedBatched,
     (cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha,
      const float* A, int lda, long long int sa, const float* B, int ldb, long long int sb, const float* beta, float* C,
      int ldc, long long int sc, int batch),
     (h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch))
SHIM(cublasStrsmBatched,
     (cublasHandle_t h, cublasSideMode_t side, cublasFillMode_t uplo, cublasOperation_t trans, cublasDiagType_t diag,
      int m, int n, const float* alpha, const float* const A[], int lda, float* const B[], int ldb, int batch),
     (h, side, uplo, trans, diag, m, n, alpha, A, lda, B, ldb, batch))

// Not a status: a fixed text when cuBLAS is missing.
extern "C" const char* CUBLASWINAPI cublasGetStatusString(cublasStatus_t status) {
  static auto* real = resolve<decltype(cublasGetStatusString)>("cublasGetStatusString");
  return real ? real(status) : "cuBLAS 13 (libcublas.so.13) was not found";
}
