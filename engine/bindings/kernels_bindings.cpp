// Embind surface of the raw kernels (GEMM, vector math) for web/lib/kernels.js, the ONNX node tests
// (tests/js/onnx_node.test.mjs) and the kernel benchmark (bench/kernels.mjs). Buffers are wasm heap
// addresses from Module._malloc, passed as numbers; every function returns { ok: true } or
// { ok: false, code, message } (js_result.h; the kernels validate their arguments, nothing is
// written on error).
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "bindings/heap_args.h"
#include "bindings/js_result.h"
#include "core/status.h"
#include "core/tensor.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"
#include "kernels/vecmath.h"

namespace gyre::bindings {
namespace {

namespace k = gyre::kernels;

// Activation codes as JS passes them: 0 none, 1 relu, 2 silu, 3 gelu (validated by the kernel).
k::Activation activation(int code) {
  return static_cast<k::Activation>(code);
}

emscripten::val gemm_packed_size(int K, int N) {
  return success_number(static_cast<double>(k::gemm_packed_size(K, N)));
}

emscripten::val gemm_pack_b(Address B, int K, int N, int ldb, bool transposed, Address packed) {
  return result(k::gemm_pack_b(in(B), K, N, ldb, transposed, out(packed)));
}

emscripten::val gemm_packed(int M, int N, int K, Address A, int lda, Address packed, Address C,
                            int ldc, Address bias, int act) {
  return result(parallel::gemm_packed(M, N, K, in(A), lda, in(packed), out(C), ldc, in(bias),
                                      activation(act)));
}

emscripten::val gemm(int M, int N, int K, Address A, int lda, Address B, int ldb, Address C,
                     int ldc, Address bias, int act) {
  return result(
      parallel::gemm(M, N, K, in(A), lda, in(B), ldb, out(C), ldc, in(bias), activation(act)));
}

emscripten::val gemm_nt(int M, int N, int K, Address A, int lda, Address B, int ldb, Address C,
                        int ldc, Address bias, int act) {
  return result(
      parallel::gemm_nt(M, N, K, in(A), lda, in(B), ldb, out(C), ldc, in(bias), activation(act)));
}

template <Status (*fn)(const float*, float*, int)>
emscripten::val unary(Address x, Address y, int n) {
  return result(fn(in(x), out(y), n));
}

template <Status (*fn)(const float*, const float*, float*, int)>
emscripten::val binary(Address a, Address b, Address y, int n) {
  return result(fn(in(a), in(b), out(y), n));
}

emscripten::val softmax_rows(Address x, Address y, int rows, int cols, int stride) {
  return result(k::softmax_rows(in(x), out(y), rows, cols, stride));
}

emscripten::val rms_norm(Address x, Address y, int rows, int cols, int stride, Address gain,
                         float eps) {
  return result(k::rms_norm(in(x), out(y), rows, cols, stride, in(gain), eps));
}

emscripten::val layer_norm(Address x, Address y, int rows, int cols, int stride, Address gamma,
                           Address beta, float eps) {
  return result(k::layer_norm(in(x), out(y), rows, cols, stride, in(gamma), in(beta), eps));
}

emscripten::val group_norm(Address x, Address y, int channels, int pixels, int groups,
                           Address gamma, Address beta, float eps, bool channels_last) {
  return result(k::group_norm(
      in(x), out(y), channels, pixels, groups, in(gamma), in(beta), eps,
      channels_last ? k::GroupNormLayout::channels_last : k::GroupNormLayout::channels_first));
}

// engine.kernels.linear: a weight packed once for gemm_packed, with its bias and activation, kept
// under an integer handle until JS disposes of it.
struct PackedLinear {
  int in = 0, out = 0;
  k::Activation activation = k::Activation::none;
  FloatBuffer packed;
  FloatBuffer bias;  // empty when there is none
};
std::map<int, PackedLinear> linears;
int next_linear = 1;

// weight: [in, out] row-major, or [out, in] (a PyTorch nn.Linear weight) when transposed; bias:
// out floats or 0. Returns the handle.
emscripten::val linear_create(int in_features, int out_features, Address weight, bool transposed,
                              Address bias, int act) {
  if (in_features < 1 || out_features < 1)
    return failure(ErrorCode::kBadArgument, "linear: in and out must be >= 1");
  if (act < 0 || act > static_cast<int>(k::Activation::gelu))
    return failure(ErrorCode::kBadArgument, "linear: unknown activation");
  PackedLinear layer;
  layer.in = in_features;
  layer.out = out_features;
  layer.activation = activation(act);
  Result<FloatBuffer> packed =
      FloatBuffer::allocate(k::gemm_packed_size(in_features, out_features), "linear weight");
  if (!packed) return failure(packed.status());
  layer.packed = std::move(packed).value();
  if (Status s =
          k::gemm_pack_b(in(weight), in_features, out_features,
                         transposed ? in_features : out_features, transposed, layer.packed.data());
      !s.is_ok())
    return failure(s);
  if (bias) {
    Result<FloatBuffer> copy = FloatBuffer::allocate(out_features, "linear bias");
    if (!copy) return failure(copy.status());
    layer.bias = std::move(copy).value();
    std::copy(in(bias), in(bias) + out_features, layer.bias.data());
  }
  const int handle = next_linear++;
  linears.emplace(handle, std::move(layer));
  return success_number(handle);
}

// y[rows, out] = act(x[rows, in] · W + bias), dense rows.
emscripten::val linear_apply(int handle, int rows, Address x, Address y) {
  const auto it = linears.find(handle);
  if (it == linears.end())
    return failure(ErrorCode::kBadArgument,
                   "linear layer " + std::to_string(handle) + " is disposed");
  const PackedLinear& layer = it->second;
  const Status s =
      parallel::gemm_packed(rows, layer.out, layer.in, in(x), layer.in, layer.packed.data(), out(y),
                            layer.out, layer.bias.data(), layer.activation);
  return result(s);
}

emscripten::val linear_free(int handle) {
  linears.erase(handle);
  return success();
}

}  // namespace

EMSCRIPTEN_BINDINGS(gyre_kernels) {
  using emscripten::function;
  function("kernelGemmPackedSize", &gemm_packed_size);
  function("kernelGemmPackB", &gemm_pack_b);
  function("kernelGemmPacked", &gemm_packed);
  function("kernelGemm", &gemm);
  function("kernelGemmNt", &gemm_nt);
  function("kernelLinearCreate", &linear_create);
  function("kernelLinearApply", &linear_apply);
  function("kernelLinearFree", &linear_free);
  function("kernelExp", &unary<k::vec_exp>);
  function("kernelSigmoid", &unary<k::vec_sigmoid>);
  function("kernelSilu", &unary<k::vec_silu>);
  function("kernelGelu", &unary<k::vec_gelu>);
  function("kernelRelu", &unary<k::vec_relu>);
  function("kernelAdd", &binary<k::vec_add>);
  function("kernelMul", &binary<k::vec_mul>);
  function("kernelSoftmaxRows", &softmax_rows);
  function("kernelRmsNorm", &rms_norm);
  function("kernelLayerNorm", &layer_norm);
  function("kernelGroupNorm", &group_norm);
}

}  // namespace gyre::bindings
