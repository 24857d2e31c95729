// SSD kernel bench: the shipped SSD kernels (ssd.cuh, ssd_tc.cuh) alone on one model shape, plain CUDA C++ so it
// builds and runs on the GPU host with nvcc and no Java; experimental variants (SSD_BENCH_VARIANTS, a header of
// kernels with the shipped signatures) are checked against the shipped kernels and the fp32 path, then timed.
//
//   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -Ikernels/src/main/cuda \
//        [-DSSD_BENCH_VARIANTS='"variants.cuh"'] tools/bench/ssd_bench.cu -o ssd_bench
//   ./ssd_bench [130m|1.3b] [iters]
//
// Inputs are random with mamba_ssm's initialisation ranges (dt in [1e-3, 0.1], A in [-16, -1]); x, B and C
// uniform in [-1, 1]. Prints microseconds per launch and per batch (all layers), and each checked kernel's
// largest difference relative to the fp32 path's output scale (the tensor-core kernels read some operands in bf16, as
// ssd_tc.cuh says: ~1e-3 against the fp32 path; the scan also against the fp32 scan of the same bf16 entering
// states). The chunk states, passing, walk and scan are timed both as the engine runs a fresh batch (carry 0: no
// carried states in, none kept; a sequence's first and last chunks skip what nothing reads) and with every state
// carried and kept (carry 3).
#include "gemm.cuh"
#include "ssd_tc.cuh"
#include "bench_cuda.cuh"
#ifdef SSD_BENCH_VARIANTS
#include SSD_BENCH_VARIANTS
#endif
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

struct Shape {
    const char* name;
    int seqs, len, H, P, N, G, layers;  // seqs 0: log-normal documents (median 700 tokens, as GpuBenchmark's) cut
                                        // into pieces of at most 2048 and packed into len tokens, as the runner's batches
};

// Sequence lengths of a batch: seqs x len, or log-normal documents in pieces (seqs == 0).
static std::vector<int> batch_lengths(const Shape& sh) {
    if (sh.seqs > 0) return std::vector<int>(sh.seqs, sh.len);
    std::vector<int> l;
    int total = 0;
    while (total < sh.len) {
        const float u1 = uni(0.f, 1.f), u2 = uni(0.f, 1.f);
        const double g = std::sqrt(-2 * std::log(1 - u1)) * std::cos(2 * M_PI * u2);
        int n = (int)std::max(16.0, std::min(16384.0, std::round(700 * std::exp(g))));
        for (; n > 0 && total < sh.len; ) {
            const int piece = std::min({n, 2048, sh.len - total});
            l.push_back(piece);
            total += piece;
            n -= piece;
        }
    }
    return l;
}

// max |a - b| / max |ref|
static double rel_diff(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& ref) {
    double d = 0, s = 0;
    for (size_t i = 0; i < a.size(); i++) {
        d = std::max(d, (double)std::fabs(a[i] - b[i]));
        s = std::max(s, (double)std::fabs(ref[i]));
        if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
    }
    return d / s;
}

static std::vector<float> widen(const std::vector<bf16>& v) {
    std::vector<float> f(v.size());
    for (size_t i = 0; i < v.size(); i++) f[i] = __bfloat162float(v[i]);
    return f;
}

int main(int argc, char** argv) {
    const Shape shapes[] = {{"130m", 16, 2048, 24, 64, 128, 1, 24}, {"1.3b", 8, 2048, 64, 64, 128, 1, 48},
                            {"130m-lognormal", 0, 16384, 24, 64, 128, 1, 24}, {"1.3b-lognormal", 0, 16384, 64, 64, 128, 1, 48}};
    const Shape* sh = shape_from_args(shapes, argc, argv, "ssd_bench");
    const int iters = argc > 2 ? atoi(argv[2]) : 20;
    const int H = sh->H, P = sh->P, N = sh->N, G = sh->G, Q = SSD_QMAX;
    const std::vector<int> lens = batch_lengths(*sh);
    const int seqs = (int)lens.size();
    std::vector<int> cs, cl, s0(seqs), sn(seqs), tp;  // tp: each token's position in its sequence
    int T = 0;
    for (int s = 0; s < seqs; s++) {
        s0[s] = (int)cs.size();
        for (int u = 0; u < lens[s]; u += Q) {
            cs.push_back(T + u);
            cl.push_back(std::min(Q, lens[s] - u));
        }
        for (int u = 0; u < lens[s]; u++) tp.push_back(u);
        sn[s] = (int)cs.size() - s0[s];
        T += lens[s];
    }
    const int C = (int)cs.size(), dSsm = H * P, ldX = dSsm + 2 * G * N;
    const int dtOff = dSsm + ldX, ldDt = dtOff + H;  // raw dt: the last H columns of in_proj's rows [z | xBC | dt]
    const int xOff = 0, bOff = dSsm, cOff = dSsm + G * N;
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    int longest = 0;
    for (int n : sn) longest = std::max(longest, n);
    printf("ssd_bench %s: %d sequences, %d tokens, %d chunks (longest sequence %d), H %d, P %d, N %d, G %d, chunk %d, "
           "%d layers; %s\n", sh->name, seqs, T, C, longest, H, P, N, G, Q, sh->layers, prop.name);
    if (sh->seqs == 0) {
        printf("chunks a sequence:");
        for (int n : sn) printf(" %d", n);
        printf("\n");
    }

    std::vector<float> hx((size_t)T * ldX), hdt((size_t)T * ldDt), hbias(H), hA(H), hD(H);
    for (float& v : hx) v = uni(-1.f, 1.f);
    for (int h = 0; h < H; h++) {
        const float dt = std::exp(uni(std::log(1e-3f), std::log(0.1f)));
        hbias[h] = dt + std::log(-std::expm1(-dt));  // softplus^-1(dt), mamba_ssm's dt_bias
        hA[h] = -uni(1.f, 16.f);
        hD[h] = uni(0.5f, 1.5f);
    }
    for (float& v : hdt) v = uni(-0.5f, 0.5f);
    float *x = upload(hx), *dtRaw = upload(hdt), *dtBias = upload(hbias), *negA = upload(hA), *D = upload(hD);
    int *chunkStart = upload(cs), *chunkLen = upload(cl), *seqChunk0 = upload(s0), *seqChunks = upload(sn), *tokPos = upload(tp);
    const size_t PN = (size_t)P * N, statesN = (size_t)C * H * PN;
    float *dt = dalloc((size_t)H * T), *cum = dalloc((size_t)H * T), *states = dalloc(statesN),
          *passed = dalloc(statesN), *ssm = dalloc(seqs * H * PN), *cb = dalloc((size_t)C * G * Q * Q),
          *y = dalloc((size_t)T * dSsm), *y32 = dalloc((size_t)T * dSsm);
    // the tensor-core path's states in bf16: the chunks' own (ssd_chunk_state_tc), and the passing's working copy that
    // it turns into the states entering the chunks (the tensor-core scan's input)
    bf16 *local16 = dalloc<bf16>(statesN), *sin = dalloc<bf16>(statesN);
    const float dtMin = 0.f, dtMax = INFINITY;
    cudaDeviceProp props;
    CK(cudaGetDeviceProperties(&props, 0));
    CK(cudaFuncSetAttribute(ssd_chunk_state_tc, cudaFuncAttributeMaxDynamicSharedMemorySize, ssd_tc::STATE_SMEM));
    int perSm = 0;
    CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, ssd_chunk_state_tc, 256, ssd_tc::STATE_SMEM));
    int headsPerCta = 1;  // GpuSsdScan.stateHeadsPerCta for the fresh batch (the last chunks skipped)
    double best = INFINITY;
    for (int hp = 1; hp <= H / G; hp++) {
        if ((H / G) % hp) continue;
        const double t = std::ceil((double)(C - seqs) * G * (H / G / hp) / (perSm * props.multiProcessorCount)) * (0.5 + hp);
        if (t <= best) best = t, headsPerCta = hp;
    }
    const int slabs = (H / G + headsPerCta - 1) / headsPerCta;
    printf("chunk-state heads per CTA: %d (%d CTAs an SM)\n", headsPerCta, perSm);
    CK(cudaFuncSetAttribute(ssd_state_walk_tc, cudaFuncAttributeMaxDynamicSharedMemorySize, ssd_tc::STATE_SMEM));
    CK(cudaFuncSetAttribute(ssd_chunk_scan_tc, cudaFuncAttributeMaxDynamicSharedMemorySize, ssd_tc::SCAN_SMEM));
    CK(cudaFuncSetAttribute(ssd_bmm_cb_tc, cudaFuncAttributeMaxDynamicSharedMemorySize, ssd_tc::BMM_SMEM));

    auto cumsum = [&] {
        ssd_chunk_cumsum<<<dim3(C, (H + CUMSUM_HEADS - 1) / CUMSUM_HEADS), Q>>>(dtRaw, ldDt, dtOff, dtBias, negA, dtMin, dtMax,
                                                                               chunkStart, chunkLen, T, H, dt, cum);
    };
    auto state_tc = [&](int carry) {
        ssd_chunk_state_tc<<<dim3(C, G, slabs), 256, ssd_tc::STATE_SMEM>>>(x, ldX, xOff, bOff, dt, cum, T, chunkStart,
                                                                          chunkLen, tokPos, carry, H, P, N, G, headsPerCta,
                                                                          local16);
    };
    auto state_f32 = [&] {
        ssd_chunk_state<<<dim3(C, H, ((P + 63) / 64) * ((N + 63) / 64)), 256>>>(x, ldX, xOff, bOff, dt, cum, T,
                                                                                chunkStart, chunkLen, H, P, N, G, states);
    };
    // the fp32 path's state passing works in place: run it on a copy (carried states in: zero)
    auto passing_f32 = [&] {
        CK(cudaMemcpyAsync(passed, states, statesN * 4, cudaMemcpyDeviceToDevice));
        CK(cudaMemsetAsync(ssm, 0, seqs * H * PN * 4));
        ssd_state_passing_v4<<<dim3((PN / 4 + 255) / 256, H, seqs), 256>>>(passed, cum, T, chunkStart, chunkLen,
                                                                             seqChunk0, seqChunks, H, PN, ssm, H * PN, 3);
    };
    // the tensor-core path's, in bf16 and in place: on a copy of the local states (with carry bit 1 it reads ssm,
    // which carry bit 2 overwrites with the final states: zero it before a check)
    auto passing = [&](int carry) {
        CK(cudaMemcpyAsync(sin, local16, statesN * 2, cudaMemcpyDeviceToDevice));
        ssd_state_passing_bf16<<<dim3((PN / 4 + 255) / 256, H, seqs), 256>>>(sin, cum, T, chunkStart, chunkLen,
                                                                               seqChunk0, seqChunks, H, PN, ssm, H * PN, carry);
    };
    // the chunk states and their passing in one kernel (GpuSsdScan.walkPays decides which the engine runs)
    auto walk_tc = [&](int carry) {
        ssd_state_walk_tc<<<dim3(seqs, G, H / G), 256, ssd_tc::STATE_SMEM>>>(x, ldX, xOff, bOff, dt, cum, T, chunkStart,
                                                                                chunkLen, seqChunk0, seqChunks, H, P, N, G,
                                                                                sin, ssm, H * PN, carry);
    };
    auto bmm = [&] { ssd_bmm_cb<<<dim3(C, G, 3), 256>>>(x, ldX, bOff, cOff, chunkStart, chunkLen, G, N, cb); };
    auto bmm_tc = [&] {
        ssd_bmm_cb_tc<<<dim3(C, G, 3), 128, ssd_tc::BMM_SMEM>>>(x, ldX, bOff, cOff, chunkStart, chunkLen, G, N, cb);
    };
    auto scan_tc = [&](int carry) {
        ssd_chunk_scan_tc<<<C * H, 256, ssd_tc::SCAN_SMEM>>>(x, ldX, xOff, cOff, dt, cum, T, chunkStart, chunkLen, tokPos,
                                                             carry, H, P, N, G, sin, cb, D, 0, y, dSsm);
    };
    auto scan_f32 = [&] {
        ssd_chunk_scan<<<dim3(C, H, 2 * ((P + 63) / 64)), 256>>>(x, ldX, xOff, cOff, dt, cum, T, chunkStart, chunkLen,
                                                                 H, P, N, G, passed, cb, D, 0, y32, dSsm);
    };

    // fp32 path: the reference
    cumsum();
    state_f32();
    passing_f32();
    bmm();
    scan_f32();
    CK(cudaDeviceSynchronize());
    const std::vector<float> ref = download(y32, (size_t)T * dSsm), states32 = download(states, statesN),
                             passed32 = download(passed, statesN), cb32 = download(cb, (size_t)C * G * Q * Q);
    // shipped tensor-core path, every state carried (zero) and kept
    state_tc(3);
    CK(cudaMemset(ssm, 0, seqs * H * PN * 4));
    CK(cudaDeviceSynchronize());
    const std::vector<float> statesTc = widen(download(local16, statesN));
    passing(3);
    bmm_tc();
    CK(cudaDeviceSynchronize());
    const std::vector<float> cbTc = download(cb, (size_t)C * G * Q * Q), passedTc = widen(download(sin, statesN)),
                             finalTc = download(ssm, seqs * H * PN);
    scan_tc(3);
    CK(cudaDeviceSynchronize());
    const std::vector<float> yTc = download(y, (size_t)T * dSsm);
    // what the tensor-core scan computes: the fp32 scan of its bf16 entering states (and the tensor-core C.B)
    CK(cudaMemcpy(passed, passedTc.data(), statesN * 4, cudaMemcpyHostToDevice));
    scan_f32();
    CK(cudaDeviceSynchronize());
    const std::vector<float> refSin = download(y32, (size_t)T * dSsm);
    printf("check ssd_chunk_state_tc vs fp32: %.3g\ncheck ssd_bmm_cb_tc vs fp32: %.3g\n"
           "check passed states in bf16 vs fp32: %.3g (bf16 rounding: up to 2^-9 = 0.00195 of each value)\n"
           "check ssd_chunk_scan_tc vs fp32 of its bf16 S_in: %.3g (vs the fp32 path: %.3g)\n",
           rel_diff(statesTc, states32, states32), rel_diff(cbTc, cb32, cb32), rel_diff(passedTc, passed32, passed32),
           rel_diff(yTc, refSin, ref), rel_diff(yTc, ref, ref));
    CK(cudaMemset(sin, 0xff, statesN * 2));
    CK(cudaMemset(ssm, 0, seqs * H * PN * 4));
    walk_tc(3);
    CK(cudaDeviceSynchronize());
    printf("check ssd_state_walk_tc vs state + passing: passed states %.3g, final states %.3g (0: the same bits)\n",
           rel_diff(widen(download(sin, statesN)), passedTc, passed32), rel_diff(download(ssm, seqs * H * PN), finalTc, finalTc));
    // a fresh batch as the engine runs it (carry 0): the skipped first and last chunks give the same y bits
    for (const bool walk : {false, true}) {
        CK(cudaMemset(sin, 0xff, statesN * 2));
        if (!walk) CK(cudaMemset(local16, 0xff, statesN * 2));
        if (walk) walk_tc(0);
        else state_tc(0), passing(0);
        CK(cudaMemset(y, 0xff, (size_t)T * dSsm * 4));
        scan_tc(0);
        CK(cudaDeviceSynchronize());
        printf("check fresh batch (carry 0: %s, scan) vs carry 3: y %.3g (0: the same bits)\n",
               walk ? "walk" : "state, passing", rel_diff(download(y, (size_t)T * dSsm), yTc, ref));
    }
    state_tc(3);
    passing(3);  // the local states passed again, for the timings and variants below
    passing_f32();

    struct Row {
        const char* name;
        float us;
    };
    std::vector<Row> rows;
    rows.push_back({"ssd_chunk_cumsum", time_us(cumsum, iters)});
    const float copy16 = time_us([&] { CK(cudaMemcpyAsync(sin, local16, statesN * 2, cudaMemcpyDeviceToDevice)); }, iters);
    for (int carry : {0, 3}) {
        const bool fresh = carry == 0;
        rows.push_back({fresh ? "ssd_chunk_state_tc" : "ssd_chunk_state_tc (carry 3)", time_us([&] { state_tc(carry); }, iters)});
        state_tc(3);
        rows.push_back({fresh ? "ssd_state_passing_bf16" : "ssd_state_passing_bf16 (carry 3)", time_us([&] { passing(carry); }, iters) - copy16});
        rows.push_back({fresh ? "ssd_state_walk_tc" : "ssd_state_walk_tc (carry 3)", time_us([&] { walk_tc(carry); }, iters)});
        passing(3);
        rows.push_back({fresh ? "ssd_chunk_scan_tc" : "ssd_chunk_scan_tc (carry 3)", time_us([&] { scan_tc(carry); }, iters)});
    }
    // the chunk states' heads per CTA (GpuSsdScan.stateHeadsPerCta picks one): B packed once for more heads against
    // whole waves of CTAs, in the fresh batch's schedule (each sequence's last chunk skipped)
    static char hpNames[16][48];
    int nh = 0;
    for (int hp : {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64}) {
        if (hp > H / G || nh == 16) continue;
        snprintf(hpNames[nh], sizeof hpNames[nh], "ssd_chunk_state_tc %d heads/CTA", hp);
        const int sl = (H / G + hp - 1) / hp;
        rows.push_back({hpNames[nh++], time_us([&] {
            ssd_chunk_state_tc<<<dim3(C, G, sl), 256, ssd_tc::STATE_SMEM>>>(x, ldX, xOff, bOff, dt, cum, T, chunkStart,
                                                                           chunkLen, tokPos, 0, H, P, N, G, hp, local16);
        }, iters)});
    }
    rows.push_back({"ssd_bmm_cb (fp32 path)", time_us(bmm, iters)});
    rows.push_back({"ssd_bmm_cb_tc", time_us(bmm_tc, iters)});
#ifdef SSD_BENCH_VARIANTS
    for (const PassingVariant& v : passing_variants()) {
        auto run = [&] {
            CK(cudaMemcpyAsync(passed, states, statesN * 4, cudaMemcpyDeviceToDevice));
            CK(cudaMemsetAsync(ssm, 0, seqs * H * PN * 4));
            v.kernel<<<dim3((PN / v.vec + 255) / 256, H, seqs), 256>>>(passed, cum, T, chunkStart, chunkLen, seqChunk0,
                                                                       seqChunks, H, PN, ssm, H * PN, 3);
        };
        run();
        CK(cudaDeviceSynchronize());
        printf("check %s vs fp32 passing: %.3g\n", v.name, rel_diff(download(passed, statesN), passed32, passed32));
        const float withCopy = time_us(run, iters);
        const float copy = time_us([&] {
            CK(cudaMemcpyAsync(passed, states, statesN * 4, cudaMemcpyDeviceToDevice));
            CK(cudaMemsetAsync(ssm, 0, seqs * H * PN * 4));
        }, iters);
        rows.push_back({v.name, withCopy - copy});
    }
    passing_f32();  // the copy-only timing above left the local states in `passed`
    // each variant: name, launch (writes states or y like the kernel it replaces), which output it replaces
    const BenchArgs args{x, ldX, xOff, bOff, cOff, dt, cum, T, chunkStart, chunkLen, H, P, N, G, states, passed, cb, D,
                         y, dSsm, C, slabs, headsPerCta, seqChunk0, seqChunks, seqs, ssm, sin, local16};
    for (const BenchVariant& v : bench_variants()) {
        v.prepare();
        if (v.replaces == Replaces::STATE_AND_PASSING) {  // writes sin as the passing leaves it, and ssm (carry 3)
            CK(cudaMemset(sin, 0xff, statesN * 2));
            CK(cudaMemset(ssm, 0, seqs * H * PN * 4));
            v.launch(args);
            CK(cudaDeviceSynchronize());
            const std::vector<float> got = widen(download(sin, statesN)), fin = download(ssm, seqs * H * PN);
            printf("check %s vs fp32 passed states: %.3g (vs shipped %.3g); final states vs shipped %.3g\n", v.name,
                   rel_diff(got, passed32, passed32), rel_diff(got, passedTc, passed32), rel_diff(fin, finalTc, finalTc));
            passing(3);  // sin as the shipped passing leaves it
        } else if (v.replaces == Replaces::SCAN) {
            CK(cudaMemset(y, 0xff, (size_t)T * dSsm * 4));
            v.launch(args);
            CK(cudaDeviceSynchronize());
            printf("check %s vs fp32: %.3g (vs shipped %.3g)\n", v.name, rel_diff(download(y, (size_t)T * dSsm), ref, ref),
                   rel_diff(download(y, (size_t)T * dSsm), yTc, ref));
        } else {
            CK(cudaMemset(local16, 0xff, statesN * 2));
            v.launch(args);
            CK(cudaDeviceSynchronize());
            const std::vector<float> got = widen(download(local16, statesN));
            printf("check %s vs fp32: %.3g (vs shipped %.3g)\n", v.name, rel_diff(got, states32, states32),
                   rel_diff(got, statesTc, states32));
        }
        rows.push_back({v.name, time_us([&] { v.launch(args); }, iters)});
    }
#endif
    printf("%-28s %10s %12s\n", "kernel", "us/launch", "ms/batch");
    for (const Row& r : rows) printf("%-28s %10.1f %12.3f\n", r.name, r.us, r.us * sh->layers / 1000.f);
    return 0;
}
