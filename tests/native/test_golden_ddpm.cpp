// The U-Net and the strided sampler against PyTorch (tests/golden/ddpm-digits.safetensors, float64
// from the shipped weights): ε̂ at several t, and the complete 10-step DDIM trajectory from fixed
// noise.
#include <algorithm>
#include <cstdio>

#include "model_test_util.h"
#include "models/ddpm.h"
#include "models/unet.h"

using namespace gyre;

namespace {

std::unique_ptr<models::UNet> load_unet(const std::string& dir) {
  const std::string config = test::read_text(dir + "config.json");
  Result<std::vector<std::uint8_t>> weights =
      io::read_file(test::source_path(dir + "model.safetensors"));
  REQUIRE(weights.is_ok());
  Result<std::unique_ptr<models::UNet>> net = models::UNet::load(config, weights.value());
  REQUIRE_MESSAGE(net.is_ok(), net.status().to_string());
  return std::move(net).value();
}

}  // namespace

TEST_CASE("golden: the DDPM U-Net and the 10-step strided trajectory match PyTorch") {
  const nlohmann::json manifest = test::read_json("tests/golden/golden.json");
  int checked = 0;
  for (const auto& item : manifest["models"].items()) {
    const std::string name = item.key();
    const nlohmann::json& entry = item.value();
    if (!entry.contains("ddim")) continue;
    CAPTURE(name);
    auto net = load_unet(entry["model"].get<std::string>());
    auto golden = test::GoldenFile::open("tests/golden/" + entry["file"].get<std::string>());

    const std::vector<std::int64_t> k64 = golden->i64("eps.k");
    const std::vector<int> k(k64.begin(), k64.end());
    const Tensor x = golden->f32("eps.x");
    const Tensor expected_eps = golden->f32("eps.eps");
    std::vector<float> eps(x.size());
    REQUIRE(net->predict_noise(x.data(), static_cast<int>(k.size()), k.data(), eps.data()).is_ok());
    const float eps_err = test::max_abs_diff(eps.data(), expected_eps.data(), eps.size());
    std::printf("golden %s eps max|err| %.3g\n", name.c_str(), eps_err);
    CHECK(eps_err <= entry["tolerance"]["eps_abs"].get<double>());

    // Batch composition must not change a result: image 2 alone equals image 2 in the batch.
    std::vector<float> single(net->image_floats());
    REQUIRE(
        net->predict_noise(x.data() + 2 * net->image_floats(), 1, &k[2], single.data()).is_ok());
    CHECK(test::max_abs_diff(single.data(), eps.data() + 2 * net->image_floats(), single.size()) <=
          1e-5f);

    models::DdpmSampler sampler(*net);
    models::DdpmOptions options;
    options.method = models::DdpmMethod::strided;
    options.stride = entry["ddim"]["stride"].get<int>();
    options.eta = entry["ddim"]["eta"].get<float>();
    const Tensor start = golden->f32("ddim.start");
    const Tensor trajectory = golden->f32("ddim.x");
    REQUIRE(sampler.begin(options, start.data()).is_ok());
    REQUIRE(sampler.total_steps() == entry["ddim"]["steps"].get<int>());
    const std::size_t floats = net->image_floats();
    float worst = 0;
    for (int step = 0; step < sampler.total_steps(); ++step) {
      REQUIRE(sampler.step().is_ok());
      std::vector<float> expected(trajectory.data() + step * floats,
                                  trajectory.data() + (step + 1) * floats);
      if (sampler.done()) {
        for (float& v : expected) v = std::clamp(v, -1.0f, 1.0f);
      }
      worst = std::max(worst, test::max_abs_diff(sampler.x(), expected.data(), floats));
    }
    const Tensor final_image = golden->f32("ddim.final");
    const float final_err = test::max_abs_diff(sampler.x(), final_image.data(), floats);
    std::printf("golden %s ddim trajectory max|err| %.3g, final %.3g\n", name.c_str(), worst,
                final_err);
    CHECK(worst <= entry["tolerance"]["trajectory_abs"].get<double>());
    CHECK(final_err <= entry["tolerance"]["trajectory_abs"].get<double>());
    ++checked;
  }
  CHECK(checked >= 1);
}
