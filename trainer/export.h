/* export.h — ztrain GPT checkpoints to and from Hugging Face's GPT2LMHeadModel
 * layout (safetensors), and the `ztrain ckpt` subcommands that need the model:
 *
 *   ztrain ckpt export DIR OUT --format safetensors   OUT/model.safetensors,
 *                                                     OUT/config.json,
 *                                                     OUT/tokenizer.model
 *   ztrain ckpt export DIR OUT.h5 [--format hdf5]     checkpoint/ckpt_tools.c
 *   ztrain ckpt logprobs DIR --tokens 3,1,4           next-token log-probabilities
 *
 * The name map lives in export.c, in one table; init_from.c reads it back
 * through zt_hf_name. */
#ifndef ZT_EXPORT_H
#define ZT_EXPORT_H
#include <stddef.h>   /* size_t */
#include <stdint.h>   /* uint8_t */
#include "zt_ckpt.h"  /* zt_ck_reader */

/* Hugging Face name of the ztrain GPT tensor `zt` ("h3.attn.qkv.w" ->
 * "transformer.h.3.attn.c_attn.weight"); *transpose = 1 where HF keeps the
 * weight as Conv1D [in, out] and ztrain as [out, in]. 0, or -1 for a name
 * with no counterpart (head.w: the head is tied to wte, see export.c). */
int zt_hf_name(const char *zt, char *hf, size_t cap, int *transpose);

/* 1 when `ztrain ckpt ARGS` is ours (export with --format, logprobs);
 * argv[0] = "ckpt". */
int zt_export_handles(int argc, char **argv);
/* Runs it; exit status (0, 2 usage or not a GPT, 5 checkpoint bad or I/O). */
int zt_export_cmd(int argc, char **argv);

/* The tokenizer a GPT checkpoint carries (index blobs "tokenizer_kind" and
 * "tokenizer", written by the saver): kind ("char" | "sentencepiece") into
 * kind[kcap], its bytes (the vocabulary string or the SentencePiece model)
 * malloc'd in *data. 0 ok, 1 the checkpoint carries none, -1 + err. */
int zt_ckpt_tokenizer(const zt_ck_reader *r, char *kind, size_t kcap, uint8_t **data, size_t *len,
                      char *err, size_t errlen);
#endif
