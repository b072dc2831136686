/* zt_tokenizer.h — the C face of SentencePiece (tokenizer_spm.cc, the one C++
 * file of the project): train a BPE model from text, load a model from the
 * bytes of its serialized proto, encode, decode, count pieces.
 *
 * The model is trained and used so that decode(encode(text)) == text for any
 * bytes: identity normalization (no NFKC, whitespace kept as it is), no dummy
 * prefix, byte fallback (a byte no piece covers becomes <0xNN>), and "\n" a
 * piece of its own (SentencePiece trains on lines, so it would never see one).
 * Functions return 0 / a pointer on success and -1 / NULL with a one-line
 * message in err on failure; nothing is printed. */
#ifndef ZT_TOKENIZER_H
#define ZT_TOKENIZER_H
#include <stddef.h>   /* size_t */
#include <stdint.h>   /* uint8_t, int32_t */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zt_spm zt_spm;

/* Train a BPE model of `vocab` pieces on text[0..n) (one sentence per line);
 * *model (malloc'd, the caller frees) gets the serialized ModelProto. */
int     zt_spm_train_bpe(const char *text, size_t n, int vocab, int threads,
                         uint8_t **model, size_t *len, char *err, size_t errlen);
zt_spm *zt_spm_load(const uint8_t *model, size_t len, char *err, size_t errlen);
void    zt_spm_free(zt_spm *s);
int     zt_spm_vocab(const zt_spm *s);   /* pieces = vocabulary size */
/* ids of text[0..n) into *ids (malloc'd, the caller frees), *n_ids of them. */
int     zt_spm_encode(const zt_spm *s, const char *text, size_t n, int32_t **ids, size_t *n_ids,
                      char *err, size_t errlen);
/* text of ids[0..n) as a malloc'd NUL-terminated string (*len bytes, may
 * hold NULs from byte pieces); NULL on an id outside the vocabulary. */
char   *zt_spm_decode(const zt_spm *s, const int32_t *ids, size_t n, size_t *len,
                      char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
