// The one translation unit of the ssdspark GPU kernels; build.sh compiles it into ssdspark_kernels.fatbin.
// One header per kernel family; each family's Java launcher lives in ssdspark.kernels.gpu and its CPU twin in
// ssdspark.kernels.
#include "varlen.cuh"
#include "embedding.cuh"
#include "rmsnorm.cuh"
#include "gemm.cuh"
#include "gemm_sm90.cuh"
#include "gemm_sm90_tiled.cuh"
#include "lm_head.cuh"
#include "conv1d.cuh"
#include "ssd.cuh"
#include "ssd_tc.cuh"
#include "gated_rmsnorm.cuh"
#include "attention.cuh"
#include "pooling.cuh"
#ifdef SSD_GEMM_VARIANTS
#include "gemm_sm90_variants.cuh"  // bench builds only
#endif
