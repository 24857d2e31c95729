// Host helpers shared by the plain CUDA benches (ssd_bench.cu, elementwise_bench.cu): error checks, device buffers,
// a seeded uniform generator (the same inputs every run) and launch timing with CUDA events.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define CK(x)                                                                                  \
    do {                                                                                       \
        cudaError_t e_ = (x);                                                                  \
        if (e_ != cudaSuccess) {                                                               \
            fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

// n zeroed elements on the device
template <typename T = float>
static T* dalloc(size_t n) {
    T* p;
    CK(cudaMalloc(&p, n * sizeof(T)));
    CK(cudaMemset(p, 0, n * sizeof(T)));
    return p;
}
template <typename T>
static T* upload(const std::vector<T>& v) {
    T* p = dalloc<T>(v.size());
    CK(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    return p;
}
template <typename T>
static std::vector<T> download(const T* p, size_t n) {
    std::vector<T> v(n);
    CK(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
}

static unsigned long long rng = 0x9E3779B97F4A7C15ull;
static float uni(float a, float b) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return a + (b - a) * (float)((rng >> 40) * (1.0 / 16777216.0));
}

// microseconds per launch: the mean of iters launches after 3 warm-up ones
template <typename F>
static float time_us(F launch, int iters) {
    for (int i = 0; i < 3; i++) launch();
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    CK(cudaEventRecord(a));
    for (int i = 0; i < iters; i++) launch();
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    CK(cudaGetLastError());
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
    return 1000.f * ms / iters;
}

// The shape named by argv[1] (the first one when absent), or a usage line naming all and exit 2.
template <class Shape, size_t N>
static const Shape* shape_from_args(const Shape (&shapes)[N], int argc, char** argv, const char* tool) {
    const char* want = argc > 1 ? argv[1] : shapes[0].name;
    for (const Shape& s : shapes)
        if (strcmp(want, s.name) == 0) return &s;
    fprintf(stderr, "usage: %s [", tool);
    for (size_t i = 0; i < N; i++) fprintf(stderr, "%s%s", i ? "|" : "", shapes[i].name);
    fprintf(stderr, "] [iters]\n");
    exit(2);
}

