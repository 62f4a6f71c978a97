#include "kernels/conv3x3.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>

#include "kernels/simd_math.h"

namespace gyre::kernels {
namespace {

constexpr int kPositions = 16;  // the 4×4 Winograd domain
// A chunk of tiles keeps V (16·T·C_in) and M (16·T·C_out) near 512 KB, so both stay in L2 between
// the transforms and the GEMMs.
constexpr std::size_t kChunkFloats = 1 << 17;

std::size_t tiles_of(const Conv3x3Shape& s) {
  return static_cast<std::size_t>(s.batch) * ((s.height + 1) / 2) * ((s.width + 1) / 2);
}

int chunk_tiles(const Conv3x3Shape& s) {
  const std::size_t per_tile =
      kPositions * static_cast<std::size_t>(s.in_channels + s.out_channels);
  const std::size_t tiles = std::max<std::size_t>(8, kChunkFloats / per_tile);
  return static_cast<int>(std::min(tiles, std::max<std::size_t>(1, tiles_of(s))));
}

Status validate(const Conv3x3Shape& s, const void* x, const void* packed, const void* y,
                const void* scratch) {
  if (s.batch < 1 || s.height < 1 || s.width < 1 || s.in_channels < 1 || s.out_channels < 1)
    return Status(ErrorCode::kBadArgument,
                  "conv3x3: batch, height, width and channels must be >= 1");
  if (static_cast<unsigned long long>(s.batch) * s.height * s.width *
          std::max(s.in_channels, s.out_channels) >
      (1ULL << 31))
    return Status(ErrorCode::kTooLarge, "conv3x3: the image batch is beyond 2^31 floats");
  if (!x || !packed || !y || !scratch)
    return Status(ErrorCode::kBadArgument, "conv3x3: a buffer is null");
  return Status::ok();
}

// Lane groups for the transforms: one float, or four channels in a v128.
struct ScalarLanes {
  using V = float;
  static constexpr int kWidth = 1;
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V activate(V v, Activation act) { return apply_activation_scalar(v, act); }
};

#if GYRE_SIMD128
struct Simd128Lanes {
  using V = v128_t;
  static constexpr int kWidth = 4;
  static V load(const float* p) { return wasm_v128_load(p); }
  static void store(float* p, V v) { wasm_v128_store(p, v); }
  static V add(V a, V b) { return wasm_f32x4_add(a, b); }
  static V sub(V a, V b) { return wasm_f32x4_sub(a, b); }
  static V activate(V v, Activation act) { return activate_f32x4(v, act); }
};
#endif

struct Tile {
  int batch, row, col;  // the tile's top-left output pixel
};

Tile tile_at(const Conv3x3Shape& s, std::size_t t) {
  const std::size_t tiles_w = (s.width + 1) / 2, per_image = tiles_w * ((s.height + 1) / 2);
  const std::size_t in_image = t % per_image;
  return Tile{static_cast<int>(t / per_image), static_cast<int>(in_image / tiles_w) * 2,
              static_cast<int>(in_image % tiles_w) * 2};
}

// V[ξ][t][c] = (Bᵀ d B)_ξ for channels [c0, C) of one tile, d the 4×4 patch whose top-left is
// (row − 1, col − 1); pixels outside the image read `zeros` (C floats), so the loop has no branch.
// Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
template <class L>
int input_transform(const Conv3x3Shape& s, const float* x, const float* zeros, Tile tile, int c0,
                    float* v, std::size_t v_position_stride) {
  const int C = s.in_channels;
  const float* image = x + static_cast<std::size_t>(tile.batch) * s.height * s.width * C;
  const float* pixel[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int r = tile.row - 1 + i, c = tile.col - 1 + j;
      pixel[i][j] = r >= 0 && r < s.height && c >= 0 && c < s.width
                        ? image + (static_cast<std::size_t>(r) * s.width + c) * C
                        : zeros;
    }
  int c = c0;
  for (; c + L::kWidth <= C; c += L::kWidth) {
    typename L::V d[4][4], t[4][4];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) d[i][j] = L::load(pixel[i][j] + c);
    for (int j = 0; j < 4; ++j) {  // t = Bᵀ d
      t[0][j] = L::sub(d[0][j], d[2][j]);
      t[1][j] = L::add(d[1][j], d[2][j]);
      t[2][j] = L::sub(d[2][j], d[1][j]);
      t[3][j] = L::sub(d[1][j], d[3][j]);
    }
    for (int i = 0; i < 4; ++i) {  // V = t B
      float* row = v + (4 * i) * v_position_stride + c;
      L::store(row, L::sub(t[i][0], t[i][2]));
      L::store(row + v_position_stride, L::add(t[i][1], t[i][2]));
      L::store(row + 2 * v_position_stride, L::sub(t[i][2], t[i][1]));
      L::store(row + 3 * v_position_stride, L::sub(t[i][1], t[i][3]));
    }
  }
  return c;
}

// y at the tile's 2×2 outputs (inside the image) = act(Aᵀ M A) for channels [o0, o_end), with
// Aᵀ = [1 1 1 0; 0 1 −1 −1]. m[ξ·m_position_stride + o] holds M_ξ for this tile.
template <class L>
int output_transform(const Conv3x3Shape& s, const float* m, std::size_t m_position_stride,
                     Tile tile, int o0, float* y, Activation act) {
  const int O = s.out_channels;
  float* image = y + static_cast<std::size_t>(tile.batch) * s.height * s.width * O;
  const bool right = tile.col + 1 < s.width, below = tile.row + 1 < s.height;
  int o = o0;
  for (; o + L::kWidth <= O; o += L::kWidth) {
    typename L::V t[2][4];
    for (int j = 0; j < 4; ++j) {  // t = Aᵀ M
      const float* column = m + j * m_position_stride + o;
      const typename L::V m0 = L::load(column), m1 = L::load(column + 4 * m_position_stride),
                          m2 = L::load(column + 8 * m_position_stride),
                          m3 = L::load(column + 12 * m_position_stride);
      t[0][j] = L::add(L::add(m0, m1), m2);
      t[1][j] = L::sub(L::sub(m1, m2), m3);
    }
    for (int i = 0; i < 2; ++i) {  // Y = t A
      if (i == 1 && !below) break;
      float* out = image + (static_cast<std::size_t>(tile.row + i) * s.width + tile.col) * O + o;
      L::store(out, L::activate(L::add(L::add(t[i][0], t[i][1]), t[i][2]), act));
      if (right) L::store(out + O, L::activate(L::sub(L::sub(t[i][1], t[i][2]), t[i][3]), act));
    }
  }
  return o;
}

template <bool kSimd>
Status conv3x3_impl(const Conv3x3Shape& s, const float* x, const float* packed, float* y,
                    Activation act, float* scratch) {
  if (Status st = validate(s, x, packed, y, scratch); !st.is_ok()) return st;
  const int C = s.in_channels, O = s.out_channels;
  const std::size_t packed_stride = gemm_packed_size(C, O);
  const std::size_t tiles = tiles_of(s);
  const int chunk = chunk_tiles(s);
  float* v = scratch;                                                   // [16][chunk][C]
  float* m = v + static_cast<std::size_t>(kPositions) * chunk * C;      // [16][chunk][O]
  float* zeros = m + static_cast<std::size_t>(kPositions) * chunk * O;  // [C]
  std::fill(zeros, zeros + C, 0.0f);
  const std::size_t v_stride = static_cast<std::size_t>(chunk) * C;  // between positions ξ
  const std::size_t m_stride = static_cast<std::size_t>(chunk) * O;
  for (std::size_t first = 0; first < tiles; first += chunk) {
    const int count = static_cast<int>(std::min<std::size_t>(chunk, tiles - first));
    for (int t = 0; t < count; ++t) {
      const Tile tile = tile_at(s, first + t);
      float* vt = v + static_cast<std::size_t>(t) * C;
      int c = 0;
#if GYRE_SIMD128
      if constexpr (kSimd) c = input_transform<Simd128Lanes>(s, x, zeros, tile, c, vt, v_stride);
#endif
      input_transform<ScalarLanes>(s, x, zeros, tile, c, vt, v_stride);
    }
    for (int xi = 0; xi < kPositions; ++xi) {
      const float* a = v + xi * v_stride;
      const float* b = packed + xi * packed_stride;
      float* c = m + xi * m_stride;
      const Status st = kSimd ? gemm_packed(count, O, C, a, C, b, c, O)
                              : gemm_packed_scalar(count, O, C, a, C, b, c, O);
      if (!st.is_ok()) return st;
    }
    for (int t = 0; t < count; ++t) {
      const Tile tile = tile_at(s, first + t);
      const float* mt = m + static_cast<std::size_t>(t) * O;
      int o = 0;
#if GYRE_SIMD128
      if constexpr (kSimd) o = output_transform<Simd128Lanes>(s, mt, m_stride, tile, o, y, act);
#endif
      output_transform<ScalarLanes>(s, mt, m_stride, tile, o, y, act);
    }
  }
  return Status::ok();
}

}  // namespace

std::size_t conv3x3_winograd_packed_size(int in_channels, int out_channels) {
  return kPositions * gemm_packed_size(in_channels, out_channels);
}

Status conv3x3_winograd_pack(const float* weight, int in_channels, int out_channels,
                             float* packed) {
  if (in_channels < 1 || out_channels < 1 || !weight || !packed)
    return Status(ErrorCode::kBadArgument,
                  "conv3x3_winograd_pack: channels must be >= 1 and buffers non-null");
  // U = G g Gᵀ in double, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]; U_ξ laid out [C_in × C_out].
  static constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  const std::size_t plane = static_cast<std::size_t>(in_channels) * out_channels;
  // malloc, not new: a failed allocation must become OUT_OF_MEMORY (no exceptions in wasm).
  std::unique_ptr<float, decltype(&std::free)> u(
      static_cast<float*>(std::malloc(kPositions * plane * sizeof(float))), &std::free);
  if (!u) return Status(ErrorCode::kOutOfMemory, "conv3x3_winograd_pack: no memory for U");
  float* U = u.get();
  for (int o = 0; o < out_channels; ++o)
    for (int c = 0; c < in_channels; ++c) {
      const float* g = weight + (static_cast<std::size_t>(o) * in_channels + c) * 9;
      double gg[4][3];  // G g
      for (int i = 0; i < 4; ++i)
        for (int b = 0; b < 3; ++b)
          gg[i][b] = G[i][0] * g[b] + G[i][1] * g[3 + b] + G[i][2] * g[6 + b];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
          U[(i * 4 + j) * plane + static_cast<std::size_t>(c) * out_channels + o] =
              static_cast<float>(gg[i][0] * G[j][0] + gg[i][1] * G[j][1] + gg[i][2] * G[j][2]);
    }
  const std::size_t packed_stride = gemm_packed_size(in_channels, out_channels);
  for (int xi = 0; xi < kPositions; ++xi) {
    if (Status s = gemm_pack_b(U + xi * plane, in_channels, out_channels, out_channels, false,
                               packed + xi * packed_stride);
        !s.is_ok())
      return s;
  }
  return Status::ok();
}

std::size_t conv3x3_winograd_scratch_floats(const Conv3x3Shape& shape) {
  if (shape.in_channels < 1 || shape.out_channels < 1) return 0;
  return static_cast<std::size_t>(kPositions) * chunk_tiles(shape) *
             (static_cast<std::size_t>(shape.in_channels) + shape.out_channels) +
         shape.in_channels;
}

Status conv3x3_winograd(const Conv3x3Shape& shape, const float* x, const float* packed, float* y,
                        Activation activation, float* scratch) {
  return conv3x3_impl<GYRE_SIMD128 != 0>(shape, x, packed, y, activation, scratch);
}

Status conv3x3_winograd_scalar(const Conv3x3Shape& shape, const float* x, const float* packed,
                               float* y, Activation activation, float* scratch) {
  return conv3x3_impl<false>(shape, x, packed, y, activation, scratch);
}

void conv3x3_reference(const Conv3x3Shape& s, const float* x, const float* weight, float* y,
                       Activation activation) {
  const int C = s.in_channels, O = s.out_channels;
  for (int b = 0; b < s.batch; ++b)
    for (int r = 0; r < s.height; ++r)
      for (int c = 0; c < s.width; ++c)
        for (int o = 0; o < O; ++o) {
          double sum = 0;
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx) {
              const int rr = r + ky - 1, cc = c + kx - 1;
              if (rr < 0 || rr >= s.height || cc < 0 || cc >= s.width) continue;
              const float* in =
                  x + ((static_cast<std::size_t>(b) * s.height + rr) * s.width + cc) * C;
              for (int ch = 0; ch < C; ++ch)
                sum += static_cast<double>(in[ch]) *
                       weight[((static_cast<std::size_t>(o) * C + ch) * 3 + ky) * 3 + kx];
            }
          y[((static_cast<std::size_t>(b) * s.height + r) * s.width + c) * O + o] =
              apply_activation_scalar(static_cast<float>(sum), activation);
        }
}

}  // namespace gyre::kernels
