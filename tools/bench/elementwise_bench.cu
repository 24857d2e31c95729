// Memory-bound kernel bench: the shipped residual-add RMSNorm, causal conv1d and gated RMSNorm (rmsnorm.cuh,
// conv1d.cuh, gated_rmsnorm.cuh) alone on one model shape, launched as GpuEngine launches them (bf16, pre-tiled
// GEMM inputs), plain CUDA C++ for the GPU host (nvcc, no Java). Experimental variants (ELEMENTWISE_BENCH_VARIANTS, a
// header of kernels with the shipped signatures) must give the shipped kernel's bits, then are timed beside it.
//
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -Ikernels/src/main/cuda \
//        [-DELEMENTWISE_BENCH_VARIANTS='"elementwise_variants.cuh"'] tools/bench/elementwise_bench.cu -o ew_bench
//   ./ew_bench [130m|1.3b] [iters]
//
// Prints microseconds per launch, ms per batch (all layers) and GB/s of nominal bytes (each input read once, each
// output written once), the figure the engine's profile reports for this family.
#include "conv1d.cuh"
#include "gated_rmsnorm.cuh"
#include "rmsnorm.cuh"
#include "bench_cuda.cuh"
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

struct Shape {
    const char* name;
    int seqs, len, d, H, P, N, G, layers;
};

// The kernels' buffers of one batch, shared by shipped kernels and variants.
struct EwArgs {
    int T, d, dSsm, convDim, dIn, seqs;
    float *residual, *delta, *normW, *proj, *convW, *convB, *convState, *xbc, *y, *gatedW;
    bf16 *xn, *gated;
    int *tokSeq, *tokPos;
};
struct EwKernel {
    std::string name, replaces;  // replaces: the shipped kernel whose outputs it must match ("" for shipped ones)
    double bytes;
    std::function<void(const EwArgs&)> launch;
};
#ifdef ELEMENTWISE_BENCH_VARIANTS
#include ELEMENTWISE_BENCH_VARIANTS
#endif

static float* random(size_t n, float a, float b) {
    std::vector<float> h(n);
    for (float& v : h) v = uni(a, b);
    return upload(h);
}
template <typename T>
static std::vector<unsigned char> bytes_of(const T* p, size_t n) {
    std::vector<unsigned char> v(n * sizeof(T));
    CK(cudaMemcpy(v.data(), p, v.size(), cudaMemcpyDeviceToHost));
    return v;
}

int main(int argc, char** argv) {
    const Shape shapes[] = {{"130m", 16, 2048, 768, 24, 64, 128, 1, 24}, {"1.3b", 8, 2048, 2048, 64, 64, 128, 1, 48}};
    const Shape* sh = shape_from_args(shapes, argc, argv, "ew_bench");
    const int iters = argc > 2 ? atoi(argv[2]) : 20;
    EwArgs a{};
    a.T = sh->seqs * sh->len, a.d = sh->d, a.dSsm = sh->H * sh->P, a.convDim = a.dSsm + 2 * sh->G * sh->N;
    a.dIn = a.dSsm + a.convDim + sh->H, a.seqs = sh->seqs;  // in_proj columns [z | xBC | dt]
    const size_t T = a.T;
    a.residual = random(T * a.d, -1, 1), a.delta = random(T * a.d, -1, 1), a.normW = random(a.d, 0.5f, 1.5f);
    a.proj = random(T * a.dIn, -2, 2), a.convW = random((size_t)a.convDim * 4, -0.5f, 0.5f), a.convB = random(a.convDim, -0.3f, 0.3f);
    a.convState = random((size_t)a.seqs * 3 * a.convDim, -1, 1), a.xbc = dalloc<float>(T * a.convDim);
    a.y = random(T * a.dSsm, -1, 1), a.gatedW = random(a.dSsm, 0.5f, 1.5f);
    const size_t tiledRows = (T + 7) & ~7;
    a.xn = dalloc<bf16>(tiledRows * ((a.d + 63) & ~63)), a.gated = dalloc<bf16>(tiledRows * ((a.dSsm + 63) & ~63));
    std::vector<int> ts(T), tp(T);
    for (size_t t = 0; t < T; t++) ts[t] = t / sh->len, tp[t] = t % sh->len;
    a.tokSeq = upload(ts), a.tokPos = upload(tp);
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    printf("elementwise_bench %s: %zu tokens, d_model %d, d_ssm %d, conv %d, in_proj %d, %d layers; %s\n", sh->name, T,
           a.d, a.dSsm, a.convDim, a.dIn, sh->layers, prop.name);

    std::vector<EwKernel> kernels = {
        {"add_rmsnorm_warp_bf16", "", (double)T * a.d * (3 * 4 + 2),
         [](const EwArgs& a) {
             add_rmsnorm_warp_bf16<<<(a.T + 7) / 8, 256>>>(a.residual, a.delta, a.normW, 1e-5f, a.d, nullptr, 0, a.xn, 0,
                                                           a.T, (a.T + 7) & ~7);
         }},
        {"causal_conv1d_fwd_k4_x4", "", (double)T * a.convDim * 8,
         [](const EwArgs& a) {
             causal_conv1d_fwd_k4_x4<<<dim3((a.T + 15) / 16, (a.convDim / 4 + 127) / 128), 128>>>(
                 a.proj, a.dIn, a.dSsm, a.convDim, a.convW, a.convB, a.T, a.tokSeq, a.tokPos, a.convState,
                 3LL * a.convDim, 1, a.xbc);
         }},
        {"gated_rmsnorm_regs_bf16", "", (double)T * a.dSsm * (4 + 4 + 2),
         [](const EwArgs& a) {
             gated_rmsnorm_regs_bf16<<<a.T, a.dSsm / 16>>>(a.y, a.dSsm, a.proj, a.dIn, 0, a.gatedW, 1e-5f, a.dSsm, 0,
                                                           a.dSsm, 0, a.gated, 0, 0, a.dSsm, (a.T + 7) & ~7);
         }},
    };
#ifdef ELEMENTWISE_BENCH_VARIANTS
    for (EwKernel& k : elementwise_variants(a)) kernels.push_back(k);
#endif
    // each kernel's outputs from fresh inputs: residual (written in place) restored first
    std::vector<float> residual0(T * a.d);
    CK(cudaMemcpy(residual0.data(), a.residual, T * a.d * 4, cudaMemcpyDeviceToHost));
    auto outputs = [&](const EwKernel& k) {
        CK(cudaMemcpy(a.residual, residual0.data(), T * a.d * 4, cudaMemcpyHostToDevice));
        CK(cudaMemset(a.xn, 0xff, tiledRows * ((a.d + 63) & ~63) * 2));
        CK(cudaMemset(a.gated, 0xff, tiledRows * ((a.dSsm + 63) & ~63) * 2));
        CK(cudaMemset(a.xbc, 0xff, T * a.convDim * 4));
        k.launch(a);
        CK(cudaDeviceSynchronize());
        std::vector<unsigned char> all = bytes_of(a.residual, T * a.d), x = bytes_of(a.xn, tiledRows * ((a.d + 63) & ~63)),
                                   c = bytes_of(a.xbc, T * a.convDim), g = bytes_of(a.gated, tiledRows * ((a.dSsm + 63) & ~63));
        all.insert(all.end(), x.begin(), x.end());
        all.insert(all.end(), c.begin(), c.end());
        all.insert(all.end(), g.begin(), g.end());
        return all;
    };
    bool ok = true;
    for (const EwKernel& k : kernels) {
        if (k.replaces.empty()) continue;
        for (const EwKernel& s : kernels)
            if (s.name == k.replaces) {
                const bool same = outputs(k) == outputs(s);
                printf("check %s == %s: %s\n", k.name.c_str(), s.name.c_str(), same ? "same bits" : "DIFFERENT");
                ok &= same;
            }
    }
    CK(cudaMemcpy(a.residual, residual0.data(), T * a.d * 4, cudaMemcpyHostToDevice));
    printf("%-36s %10s %10s %8s\n", "kernel", "us/launch", "ms/batch", "GB/s");
    for (const EwKernel& k : kernels) {
        const float us = time_us([&] { k.launch(a); }, iters);
        printf("%-36s %10.1f %10.3f %8.0f\n", k.name.c_str(), us, us * sh->layers / 1000.f, k.bytes / us / 1e3);
    }
    return ok ? 0 : 1;
}
