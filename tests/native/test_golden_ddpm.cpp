// The U-Net and the strided sampler against PyTorch (tests/golden/ddpm-digits.safetensors, float64
// from the shipped weights): ε̂ at several t (for any class and, on a class-conditional net, given
// each image's class), and the complete 10-step DDIM trajectory from fixed noise.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

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

    const bool conditional = net->config().classes > 0;
    if (conditional) {
      const std::vector<std::int64_t> labels64 = golden->i64("eps.labels");
      const std::vector<int> labels(labels64.begin(), labels64.end());
      const Tensor expected = golden->f32("eps.eps_labelled");
      std::vector<float> labelled(x.size());
      REQUIRE(net->predict_noise(x.data(), static_cast<int>(k.size()), k.data(), labelled.data(),
                                 labels.data())
                  .is_ok());
      const float labelled_err = test::max_abs_diff(labelled.data(), expected.data(), x.size());
      std::printf("golden %s eps given the class max|err| %.3g\n", name.c_str(), labelled_err);
      CHECK(labelled_err <= entry["tolerance"]["eps_abs"].get<double>());
      // The class matters (else the check above could not fail), and label −1 is "any class".
      CHECK(test::max_abs_diff(labelled.data(), eps.data(), x.size()) > 1e-2f);
      const std::vector<int> any(k.size(), -1);
      std::vector<float> unlabelled(x.size());
      REQUIRE(net->predict_noise(x.data(), static_cast<int>(k.size()), k.data(),
                                 unlabelled.data(), any.data())
                  .is_ok());
      CHECK(test::max_abs_diff(unlabelled.data(), eps.data(), x.size()) == 0.0f);
    }

    models::DdpmSampler sampler(*net);
    models::DdpmOptions options;
    if (conditional) {
      const std::vector<std::int64_t> label = golden->i64("ddim.label");
      options.labels.assign(label.begin(), label.end());
    }
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

TEST_CASE("class labels: a bad label is BAD_ARGUMENT, a missing class table BAD_MODEL") {
  const std::string config = test::read_text("models/ddpm-digits/config.json");
  Result<std::vector<std::uint8_t>> weights =
      io::read_file(test::source_path("models/ddpm-digits/model.safetensors"));
  REQUIRE(weights.is_ok());
  auto net = models::UNet::load(config, weights.value());
  REQUIRE(net.is_ok());
  const int classes = net.value()->config().classes;
  REQUIRE(classes == 10);
  const std::vector<float> x(net.value()->image_floats(), 0.0f);
  std::vector<float> eps(x.size());
  const int k = 500;
  for (int label : {classes, -2}) {
    CAPTURE(label);
    const Status s = net.value()->predict_noise(x.data(), 1, &k, eps.data(), &label);
    CHECK(s.code() == ErrorCode::kBadArgument);
    CHECK_MESSAGE(s.message().find("label") != std::string::npos, s.to_string());
  }
  models::DdpmSampler sampler(*net.value());
  models::DdpmOptions options;
  options.count = 2;
  options.labels = {3};  // one label for two images
  CHECK(sampler.begin(options).code() == ErrorCode::kBadArgument);
  options.labels = {3, classes};
  CHECK(sampler.begin(options).code() == ErrorCode::kBadArgument);
  options.labels = {3, -1};
  CHECK(sampler.begin(options).is_ok());

  // The same weights read as an unconditional net: labels other than −1 are refused.
  nlohmann::json unconditional = nlohmann::json::parse(config);
  unconditional["architecture"].erase("classes");
  auto plain = models::UNet::load(unconditional.dump(), weights.value());
  REQUIRE(plain.is_ok());
  const int seven = 7;
  const Status refused = plain.value()->predict_noise(x.data(), 1, &k, eps.data(), &seven);
  CHECK(refused.code() == ErrorCode::kBadArgument);
  CHECK_MESSAGE(refused.message().find("not class-conditional") != std::string::npos,
                refused.to_string());

  // More classes than the table holds: BAD_MODEL naming the tensor.
  nlohmann::json more = nlohmann::json::parse(config);
  more["architecture"]["classes"] = 12;
  auto misshapen = models::UNet::load(more.dump(), weights.value());
  REQUIRE_FALSE(misshapen.is_ok());
  CHECK(misshapen.status().code() == ErrorCode::kBadModel);
  CHECK(misshapen.status().message().find("'class_table.weight'") != std::string::npos);
}

TEST_CASE("classifier-free guidance: eps = eps_any + w (eps_label - eps_any) at every step") {
  auto loaded = load_unet("models/ddpm-digits/");
  models::UNet& net = *loaded;
  const std::size_t floats = net.image_floats();
  std::vector<float> start(2 * floats);
  models::Rng rng(5);
  rng.fill_normal(start.data(), start.size());

  models::DdpmOptions options;
  options.count = 2;
  options.stride = 100;
  options.labels = {3, -1};
  options.guidance = 2.5f;
  models::DdpmSampler sampler(net);
  REQUIRE(sampler.begin(options, start.data()).is_ok());
  REQUIRE(sampler.step().is_ok());
  const std::vector<int> k(2, sampler.current_k());
  std::vector<float> labelled(2 * floats), any(2 * floats);
  REQUIRE(net.predict_noise(start.data(), 2, k.data(), labelled.data(), options.labels.data()).is_ok());
  REQUIRE(net.predict_noise(start.data(), 2, k.data(), any.data()).is_ok());
  float worst = 0;
  for (std::size_t j = 0; j < 2 * floats; ++j) {
    const float guided = any[j] + options.guidance * (labelled[j] - any[j]);
    worst = std::max(worst, std::abs(sampler.predicted_noise()[j] - guided));
  }
  CHECK(worst <= 1e-5f);
  // The guided image moved away from the plain conditional one; "any class" is unguided.
  CHECK(test::max_abs_diff(sampler.predicted_noise(), labelled.data(), floats) > 1e-3f);
  CHECK(test::max_abs_diff(sampler.predicted_noise() + floats, any.data() + floats, floats) <= 1e-6f);

  for (float bad : {-0.5f, 10.5f, std::numeric_limits<float>::quiet_NaN()}) {
    options.guidance = bad;
    CHECK(sampler.begin(options, start.data()).code() == ErrorCode::kBadArgument);
  }
}
