// Embind surface of the models (web/lib/model.js is its only caller). Models live in a handle
// table: JS holds integer handles and frees them with modelFree. Every function returns { ok: true,
// value } or { ok: false, code, message } and validates its arguments first; nothing throws into
// JS.
#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bindings/js_result.h"
#include "core/status.h"
#include "models/chunked_pass.h"
#include "models/ddpm.h"
#include "models/generator.h"
#include "models/language_model.h"
#include "models/sampling.h"
#include "models/unet.h"
#include "models/widen.h"

namespace gyre::bindings {
namespace {

using emscripten::val;
using models::AttentionOverride;

// A language model and its generation, if one is running (one at a time per model).
struct LmEntry {
  std::unique_ptr<models::LanguageModel> model;
  std::optional<models::Generator> generation;
};

struct DdpmEntry {
  std::unique_ptr<models::UNet> net;
  std::unique_ptr<models::DdpmSampler> sampler;
};

std::map<int, LmEntry> language_models;
std::map<int, DdpmEntry> diffusion_models;
int next_handle = 1;

LmEntry* find_lm(int handle) {
  const auto it = language_models.find(handle);
  return it == language_models.end() ? nullptr : &it->second;
}
DdpmEntry* find_ddpm(int handle) {
  const auto it = diffusion_models.find(handle);
  return it == diffusion_models.end() ? nullptr : &it->second;
}
Status no_model_status(int handle) {
  return Status(ErrorCode::kBadArgument,
                "model handle " + std::to_string(handle) + " is not loaded (disposed?)");
}
val no_model(int handle) {
  return failure(no_model_status(handle));
}

std::span<const std::uint8_t> heap_bytes(std::uintptr_t address, std::size_t size) {
  return {reinterpret_cast<const std::uint8_t*>(address), size};
}

Result<std::vector<int>> ids_from(const val& ids) {
  if (!ids.instanceof (val::global("Int32Array")))
    return Result<std::vector<int>>(ErrorCode::kBadArgument, "token ids must be an Int32Array");
  return emscripten::convertJSArrayToNumberVector<int>(ids);
}

// { mode: 'as-trained' | 'full' | 'local', window, logn } → AttentionOverride
Result<AttentionOverride> attention_from(const val& options) {
  AttentionOverride attention;
  const std::string mode = options["mode"].as<std::string>();
  if (mode == "as-trained")
    attention.mode = AttentionOverride::Mode::as_trained;
  else if (mode == "full")
    attention.mode = AttentionOverride::Mode::full;
  else if (mode == "local")
    attention.mode = AttentionOverride::Mode::local;
  else
    return Result<AttentionOverride>(
        ErrorCode::kBadArgument,
        "attention must be 'as-trained', 'full' or 'local', not '" + mode + "'");
  attention.window = options["window"].as<int>();
  attention.logn = options["logn"].as<bool>();
  return attention;
}

// What the evaluation entry points share: the model, its token ids and the attention override.
struct LmCall {
  LmEntry* entry;
  std::vector<int> ids;
  AttentionOverride attention;
  models::LanguageModel& model() const { return *entry->model; }
};

Result<LmCall> lm_call(int handle, const val& ids_js, const val& attention_js) {
  LmEntry* entry = find_lm(handle);
  if (!entry) return no_model_status(handle);
  Result<std::vector<int>> ids = ids_from(ids_js);
  if (!ids) return ids.status();
  Result<AttentionOverride> attention = attention_from(attention_js);
  if (!attention) return attention.status();
  return LmCall{entry, std::move(ids).value(), attention.value()};
}

val int32_array_copy(const std::vector<int>& values) {
  return val::global("Int32Array")
      .new_(emscripten::typed_memory_view(values.size(), values.data()));
}

val lm_info(const models::LanguageModel& model, int handle) {
  const models::LmConfig& c = model.config();
  val info = val::object();
  info.set("handle", handle);
  info.set("family", c.family_name());
  info.set("normaliser", c.normaliser_name());
  info.set("vocabSize", c.vocab_size);
  info.set("hidden", c.hidden);
  info.set("layers", c.layers);
  info.set("heads", c.attention_heads());
  info.set("headSize", c.head_size());
  info.set("ropeDim", c.rope_dim);
  info.set("trainLength", c.train_length);
  if (c.family == models::LmFamily::flash) info.set("chunk", c.chunk);
  info.set("parameters", static_cast<double>(model.parameter_count()));
  val vocab = val::array();
  for (const std::string& piece : c.vocab) vocab.call<void>("push", piece);
  info.set("vocab", vocab);
  return info;
}

int store_lm(std::unique_ptr<models::LanguageModel> model) {
  const int handle = next_handle++;
  language_models[handle].model = std::move(model);
  return handle;
}

val lm_load(std::string config, std::uintptr_t address, std::size_t size) {
  Result<std::unique_ptr<models::LanguageModel>> model =
      models::LanguageModel::load(config, heap_bytes(address, size));
  if (!model) return failure(model.status());
  const int handle = store_lm(std::move(model).value());
  return success(lm_info(*language_models[handle].model, handle));
}

val lm_encode(int handle, std::string text) {
  LmEntry* entry = find_lm(handle);
  if (!entry) return no_model(handle);
  return success(int32_array_copy(entry->model->tokenizer().encode(text)));
}

val lm_logits(int handle, val ids_js, val attention_js) {
  Result<LmCall> call = lm_call(handle, ids_js, attention_js);
  if (!call) return failure(call.status());
  const std::uint64_t count =
      call->ids.size() * static_cast<std::uint64_t>(call->model().config().vocab_size);
  Result<FloatBuffer> logits = FloatBuffer::allocate(count, "the logits");
  if (!logits) return failure(logits.status());
  if (Status s = call->model().forward(call->ids, call->attention, logits->data()); !s.is_ok())
    return failure(s);
  return success(float32_array_copy(logits->data(), count));
}

// Starts a generation: runs the prompt and prepares the sampler; returns the position.
val lm_generate_begin(int handle, val ids_js, val attention_js, val sampling) {
  Result<LmCall> call = lm_call(handle, ids_js, attention_js);
  if (!call) return failure(call.status());
  models::SamplingOptions options;
  options.temperature = sampling["temperature"].as<float>();
  options.top_k = sampling["topK"].as<int>();
  options.top_p = sampling["topP"].as<float>();
  options.repetition_penalty = sampling["repetitionPenalty"].as<float>();
  options.repetition_window = sampling["repetitionWindow"].as<int>();
  options.seed = static_cast<std::uint64_t>(sampling["seed"].as<double>());
  std::optional<models::Generator>& generation = call->entry->generation;
  generation.reset();
  Result<models::Generator> started =
      models::Generator::start(call->model(), call->ids, call->attention, options);
  if (!started) return failure(started.status());
  generation.emplace(std::move(started).value());
  return success_number(generation->position());
}

// Samples `count` tokens; returns them as an Int32Array.
val lm_generate_next(int handle, int count) {
  LmEntry* entry = find_lm(handle);
  if (!entry) return no_model(handle);
  if (!entry->generation)
    return failure(ErrorCode::kBadArgument, "generateNext needs generateBegin first");
  std::vector<int> tokens;
  for (int i = 0; i < count; ++i) {
    Result<int> token = entry->generation->next();
    if (!token) return failure(token.status());
    tokens.push_back(token.value());
  }
  return success(int32_array_copy(tokens));
}

val lm_widen(int handle, int k, bool exact_rope) {
  LmEntry* entry = find_lm(handle);
  if (!entry) return no_model(handle);
  Result<std::unique_ptr<models::LanguageModel>> wide = models::widen(*entry->model, k, exact_rope);
  if (!wide) return failure(wide.status());
  const int wide_handle = store_lm(std::move(wide).value());
  return success(lm_info(*language_models[wide_handle].model, wide_handle));
}

// Chunked passes (evaluate, attentionEntropy, attentionWeights, verify): model.js starts one, runs
// it for a time budget per call (yielding to the event loop between calls, where it reports
// progress and sees an abort), then takes the result or frees it. Passes refer to their models by
// handle, so disposing a model mid-pass makes the next run fail instead of reading freed memory.
struct PassEntry {
  int model = 0;
  int reference = 0;
  std::unique_ptr<models::ChunkedPass> pass;
};
std::map<int, PassEntry> passes;
int next_pass = 1;

val pass_progress(const models::ChunkedPass& pass) {
  val progress = val::object();
  progress.set("done", pass.done());
  progress.set("tokensDone", pass.tokens_done());
  progress.set("tokensTotal", pass.tokens_total());
  return progress;
}

// request: { result: 'nll' | 'logits' | 'entropy' | 'weights' | 'max-difference', layer, head,
// queryBegin, queryEnd, reference (a model handle, max-difference) }
val lm_pass_start(int handle, val ids_js, val attention_js, val request_js) {
  Result<LmCall> call = lm_call(handle, ids_js, attention_js);
  if (!call) return failure(call.status());
  models::PassRequest request;
  request.attention = call->attention;
  const std::string result = request_js["result"].as<std::string>();
  if (result == "nll")
    request.result = models::PassResult::nll;
  else if (result == "logits")
    request.result = models::PassResult::logits;
  else if (result == "entropy")
    request.result = models::PassResult::entropy;
  else if (result == "weights")
    request.result = models::PassResult::weights;
  else if (result == "max-difference")
    request.result = models::PassResult::max_difference;
  else
    return failure(ErrorCode::kBadArgument, "unknown pass result '" + result + "'");
  request.layer = request_js["layer"].as<int>();
  request.head = request_js["head"].as<int>();
  request.query_begin = request_js["queryBegin"].as<int>();
  request.query_end = request_js["queryEnd"].as<int>();
  const int reference_handle = request_js["reference"].as<int>();
  LmEntry* reference = nullptr;
  if (request.result == models::PassResult::max_difference) {
    reference = find_lm(reference_handle);
    if (!reference) return no_model(reference_handle);
  }
  Result<std::unique_ptr<models::ChunkedPass>> pass = models::ChunkedPass::start(
      call->model(), std::move(call->ids), request, reference ? reference->model.get() : nullptr);
  if (!pass) return failure(pass.status());
  const int id = next_pass++;
  passes[id] = PassEntry{handle, reference_handle, std::move(pass).value()};
  return success_number(id);
}

val lm_pass_run(int id, double budget_ms) {
  const auto it = passes.find(id);
  if (it == passes.end()) return failure(ErrorCode::kBadArgument, "no such pass (freed?)");
  PassEntry& entry = it->second;
  LmEntry* model = find_lm(entry.model);
  if (!model) return no_model(entry.model);
  LmEntry* reference = nullptr;
  if (entry.reference != 0) {
    reference = find_lm(entry.reference);
    if (!reference) return no_model(entry.reference);
  }
  if (Status s =
          entry.pass->run(*model->model, reference ? reference->model.get() : nullptr, budget_ms);
      !s.is_ok())
    return failure(s);
  return success(pass_progress(*entry.pass));
}

// The finished pass's result (a Float32Array); frees the pass.
val lm_pass_result(int id) {
  const auto it = passes.find(id);
  if (it == passes.end() || !it->second.pass->done())
    return failure(ErrorCode::kBadArgument, "the pass is not finished (or was freed)");
  const std::span<const float> result = it->second.pass->result();
  val array = float32_array_copy(result.data(), result.size());
  passes.erase(it);
  return success(array);
}

val lm_pass_free(int id) {
  passes.erase(id);
  return success();
}

val ddpm_load(std::string config, std::uintptr_t address, std::size_t size) {
  Result<std::unique_ptr<models::UNet>> net = models::UNet::load(config, heap_bytes(address, size));
  if (!net) return failure(net.status());
  const int handle = next_handle++;
  DdpmEntry& entry = diffusion_models[handle];
  entry.net = std::move(net).value();
  entry.sampler = std::make_unique<models::DdpmSampler>(*entry.net);
  const models::UnetConfig& c = entry.net->config();
  val info = val::object();
  info.set("handle", handle);
  info.set("family", std::string("ddpm-unet"));
  info.set("imageSize", c.image_size);
  info.set("channels", c.image_channels);
  info.set("steps", c.steps);
  info.set("classes", c.classes);
  info.set("parameters", static_cast<double>(entry.net->parameter_count()));
  return success(info);
}

// Labels from JS: null/undefined (any class for every image) or an Int32Array of `count` labels.
Result<std::vector<int>> labels_from_js(val labels_js, std::size_t count) {
  if (labels_js.isNull() || labels_js.isUndefined()) return std::vector<int>{};
  if (!labels_js.instanceof (val::global("Int32Array"))) {
    return Status(ErrorCode::kBadArgument, "labels must be an Int32Array");
  }
  std::vector<int> labels = emscripten::convertJSArrayToNumberVector<int>(labels_js);
  if (labels.size() != count) {
    return Status(ErrorCode::kBadArgument, "labels must hold one label per image (" +
                                               std::to_string(count) + "), not " +
                                               std::to_string(labels.size()));
  }
  return labels;
}

val ddpm_predict(int handle, val x_js, val k_js, val labels_js) {
  DdpmEntry* entry = find_ddpm(handle);
  if (!entry) return no_model(handle);
  if (!x_js.instanceof (val::global("Float32Array")) || !k_js.instanceof
      (val::global("Int32Array"))) {
    return failure(ErrorCode::kBadArgument,
                   "predictNoise needs a Float32Array of images and an Int32Array of time indices");
  }
  const std::vector<float> x = emscripten::convertJSArrayToNumberVector<float>(x_js);
  const std::vector<int> k = emscripten::convertJSArrayToNumberVector<int>(k_js);
  if (x.size() != k.size() * entry->net->image_floats()) {
    return failure(ErrorCode::kBadArgument, "images hold " + std::to_string(x.size()) +
                                                " floats, expected " + std::to_string(k.size()) +
                                                " × " + std::to_string(entry->net->image_floats()));
  }
  Result<std::vector<int>> labels = labels_from_js(labels_js, k.size());
  if (!labels) return failure(labels.status());
  std::vector<float> eps(x.size());
  if (Status s = entry->net->predict_noise(x.data(), static_cast<int>(k.size()), k.data(),
                                           eps.data(),
                                           labels.value().empty() ? nullptr : labels.value().data());
      !s.is_ok())
    return failure(s);
  return success(float32_array_copy(eps.data(), eps.size()));
}

val ddpm_begin(int handle, val options_js, val start_js) {
  DdpmEntry* entry = find_ddpm(handle);
  if (!entry) return no_model(handle);
  models::DdpmOptions options;
  options.count = options_js["count"].as<int>();
  options.method = options_js["method"].as<std::string>() == "ancestral"
                       ? models::DdpmMethod::ancestral
                       : models::DdpmMethod::strided;
  options.stride = options_js["stride"].as<int>();
  options.eta = options_js["eta"].as<float>();
  options.sigma = options_js["sigma"].as<std::string>() == "beta" ? models::DdpmSigma::beta
                                                                  : models::DdpmSigma::posterior;
  options.seed = static_cast<std::uint64_t>(options_js["seed"].as<double>());
  Result<std::vector<int>> labels = labels_from_js(options_js["labels"], options.count);
  if (!labels) return failure(labels.status());
  options.labels = std::move(labels).value();
  options.guidance = options_js["guidance"].as<float>();
  std::vector<float> start;
  if (!start_js.isNull() && !start_js.isUndefined()) {
    start = emscripten::convertJSArrayToNumberVector<float>(start_js);
    if (start.size() != static_cast<std::size_t>(options.count) * entry->net->image_floats()) {
      return failure(ErrorCode::kBadArgument, "the starting noise must hold count × image floats");
    }
  }
  if (Status s = entry->sampler->begin(options, start.empty() ? nullptr : start.data()); !s.is_ok())
    return failure(s);
  return success_number(entry->sampler->total_steps());
}

// One sampler step; returns { k, done, stepsDone } and, when asked, copies of x_t and of the
// predicted x0.
val ddpm_step(int handle, bool with_images) {
  DdpmEntry* entry = find_ddpm(handle);
  if (!entry) return no_model(handle);
  if (Status s = entry->sampler->step(); !s.is_ok()) return failure(s);
  val result = val::object();
  result.set("k", entry->sampler->current_k());
  result.set("done", entry->sampler->done());
  result.set("stepsDone", entry->sampler->steps_done());
  if (with_images || entry->sampler->done()) {
    result.set("x", float32_array_copy(entry->sampler->x(), entry->sampler->floats()));
    result.set("x0", float32_array_copy(entry->sampler->predicted_x0(), entry->sampler->floats()));
  }
  return success(result);
}

val model_free(int handle) {
  language_models.erase(handle);
  diffusion_models.erase(handle);
  return success(val::undefined());
}

}  // namespace

EMSCRIPTEN_BINDINGS(gyre_models) {
  emscripten::function("lmLoad", &lm_load);
  emscripten::function("lmEncode", &lm_encode);
  emscripten::function("lmLogits", &lm_logits);
  emscripten::function("lmGenerateBegin", &lm_generate_begin);
  emscripten::function("lmGenerateNext", &lm_generate_next);
  emscripten::function("lmWiden", &lm_widen);
  emscripten::function("lmPassStart", &lm_pass_start);
  emscripten::function("lmPassRun", &lm_pass_run);
  emscripten::function("lmPassResult", &lm_pass_result);
  emscripten::function("lmPassFree", &lm_pass_free);
  emscripten::function("ddpmLoad", &ddpm_load);
  emscripten::function("ddpmPredict", &ddpm_predict);
  emscripten::function("ddpmBegin", &ddpm_begin);
  emscripten::function("ddpmStep", &ddpm_step);
  emscripten::function("modelFree", &model_free);
}

}  // namespace gyre::bindings
