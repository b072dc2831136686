// tokenizer_spm.cc — zt_tokenizer.h over Debian's libsentencepiece (0.1.97).
// The only C++ in the project: C code never sees a C++ type or exception.
#include "zt_tokenizer.h"

#include <sentencepiece_processor.h>   // SentencePieceProcessor: load, encode, decode
#include <sentencepiece_trainer.h>     // SentencePieceTrainer, SentenceIterator

#include <cstdio>     // snprintf
#include <cstdlib>    // malloc
#include <cstring>    // memcpy
#include <exception>  // std::exception
#include <new>        // std::nothrow
#include <string>
#include <unordered_map>
#include <vector>

struct zt_spm {
    sentencepiece::SentencePieceProcessor p;
};

namespace {

// Lines of one buffer, without copying it first (SentencePiece trains on
// sentences: one a line; empty lines are skipped).
class LineIterator : public sentencepiece::SentenceIterator {
  public:
    LineIterator(const char *t, size_t n) : t_(t), n_(n) { Next(); }
    bool done() const override { return done_; }
    void Next() override {
        while (at_ < n_) {
            const char *nl = static_cast<const char *>(memchr(t_ + at_, '\n', n_ - at_));
            size_t end = nl ? static_cast<size_t>(nl - t_) : n_;
            line_.assign(t_ + at_, end - at_);
            at_ = end + 1;
            if (!line_.empty()) return;
        }
        done_ = true;
    }
    const std::string &value() const override { return line_; }
    sentencepiece::util::Status status() const override { return {}; }

  private:
    const char *t_;
    size_t n_, at_ = 0;
    bool done_ = false;
    std::string line_;
};

}  // namespace

extern "C" int zt_spm_train_bpe(const char *text, size_t n, int vocab, int threads,
                                uint8_t **model, size_t *len, char *err, size_t errlen) {
    try {
        std::unordered_map<std::string, std::string> kw = {
            {"model_type", "bpe"},
            {"vocab_size", std::to_string(vocab)},
            {"normalization_rule_name", "identity"},
            {"remove_extra_whitespaces", "false"},
            {"add_dummy_prefix", "false"},
            {"allow_whitespace_only_pieces", "true"},
            {"split_digits", "false"},
            {"byte_fallback", "true"},
            {"character_coverage", "1.0"},
            {"user_defined_symbols", "\n"},
            {"max_sentence_length", "65536"},
            {"num_threads", std::to_string(threads > 0 ? threads : 1)},
            {"minloglevel", "2"},   // training progress is not ours to print
        };
        LineIterator it(text, n);
        std::string proto;
        auto st = sentencepiece::SentencePieceTrainer::Train(kw, &it, &proto);
        if (!st.ok()) { snprintf(err, errlen, "sentencepiece: %s", st.ToString().c_str()); return -1; }
        *model = static_cast<uint8_t *>(malloc(proto.size() ? proto.size() : 1));
        if (!*model) { snprintf(err, errlen, "out of memory"); return -1; }
        memcpy(*model, proto.data(), proto.size());
        *len = proto.size();
        return 0;
    } catch (const std::exception &e) {
        snprintf(err, errlen, "sentencepiece: %s", e.what());
        return -1;
    }
}

extern "C" zt_spm *zt_spm_load(const uint8_t *model, size_t len, char *err, size_t errlen) {
    zt_spm *s = new (std::nothrow) zt_spm;
    if (!s) { snprintf(err, errlen, "out of memory"); return nullptr; }
    try {
        auto st = s->p.LoadFromSerializedProto(
            absl::string_view(reinterpret_cast<const char *>(model), len));
        if (!st.ok()) {
            snprintf(err, errlen, "sentencepiece model (%zu bytes): %s", len, st.ToString().c_str());
            delete s;
            return nullptr;
        }
        return s;
    } catch (const std::exception &e) {
        snprintf(err, errlen, "sentencepiece: %s", e.what());
        delete s;
        return nullptr;
    }
}

extern "C" void zt_spm_free(zt_spm *s) { delete s; }

extern "C" int zt_spm_vocab(const zt_spm *s) { return s->p.GetPieceSize(); }

extern "C" int zt_spm_encode(const zt_spm *s, const char *text, size_t n, int32_t **ids,
                             size_t *n_ids, char *err, size_t errlen) {
    try {
        std::vector<int> v;
        auto st = s->p.Encode(absl::string_view(text, n), &v);
        if (!st.ok()) { snprintf(err, errlen, "sentencepiece encode: %s", st.ToString().c_str()); return -1; }
        *ids = static_cast<int32_t *>(malloc((v.size() ? v.size() : 1) * sizeof(int32_t)));
        if (!*ids) { snprintf(err, errlen, "out of memory"); return -1; }
        for (size_t i = 0; i < v.size(); i++) (*ids)[i] = v[i];
        *n_ids = v.size();
        return 0;
    } catch (const std::exception &e) {
        snprintf(err, errlen, "sentencepiece: %s", e.what());
        return -1;
    }
}

extern "C" char *zt_spm_decode(const zt_spm *s, const int32_t *ids, size_t n, size_t *len,
                               char *err, size_t errlen) {
    try {
        const int V = s->p.GetPieceSize();
        std::vector<int> v(ids, ids + n);
        for (size_t i = 0; i < n; i++)
            if (v[i] < 0 || v[i] >= V) {
                snprintf(err, errlen, "token id %d at %zu outside the vocabulary [0, %d)", v[i], i, V);
                return nullptr;
            }
        std::string out;
        auto st = s->p.Decode(v, &out);
        if (!st.ok()) { snprintf(err, errlen, "sentencepiece decode: %s", st.ToString().c_str()); return nullptr; }
        char *r = static_cast<char *>(malloc(out.size() + 1));
        if (!r) { snprintf(err, errlen, "out of memory"); return nullptr; }
        memcpy(r, out.data(), out.size());
        r[out.size()] = 0;
        if (len) *len = out.size();
        return r;
    } catch (const std::exception &e) {
        snprintf(err, errlen, "sentencepiece: %s", e.what());
        return nullptr;
    }
}
