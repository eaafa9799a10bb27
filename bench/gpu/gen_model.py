#!/usr/bin/env python3
"""Random-weight llama GGUF of a real model's shape, for throughput runs on a GPU.

Layer weights are Q4_K blocks (random nibbles, zero-mean scale), token embedding and
output f16. The tokenizer, chat template and byte-token suppression come from the tiny
fixture: residual dimension 0 carries a large constant (embedding column 0; no layer
writes it back), and the output rows of unk/bos/eos and the 256 byte tokens have -20
there, so the text is always valid UTF-8 and generation runs to max_tokens.

usage: gen_model.py TEMPLATE.gguf OUT.gguf [--embd 4096 --layers 32 --heads 32 --ff 11008 --ctx 4096]
       gen_model.py --metadata-only MODEL.gguf TEMPLATE.gguf
The second form writes MODEL's metadata (tokenizer, chat template) without its tensors: a
template of under 1 MB where the model itself is too big to carry. bench/gpu/tiny-llama-template.gguf
was made so from the 17 MB tiny-random-llama.gguf of the project's shared fixtures.
Dimensions are multiples of 256 (Q4_K blocks).
needs gguf-py (llama.cpp's gguf-py on PYTHONPATH) and numpy.
"""
import argparse

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter, GGMLQuantizationType

QK_K = 256
Q4K_BYTES = 144  # f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles


def q4k_random(rows: int, cols: int, rng: np.random.Generator, zero_row0: bool) -> np.ndarray:
    blocks = cols // QK_K
    b = rng.integers(0, 256, size=(rows, blocks, Q4K_BYTES), dtype=np.uint8)
    d = np.array([0.002], dtype=np.float16).view(np.uint8)
    dmin = np.array([0.015], dtype=np.float16).view(np.uint8)  # 7.5 * d: nibbles 0..15 centred on zero
    b[:, :, 0:2] = d
    b[:, :, 2:4] = dmin
    b[:, :, 4:12] = 0x01  # scale 1, min 1 for sub-blocks 0..3 (and high bits 0 for 4..7)
    b[:, :, 12:16] = 0x11  # scale 1, min 1 for sub-blocks 4..7
    if zero_row0:
        b[0, :, 0:4] = 0  # d = dmin = 0: output row 0 is all zeros
    return b.reshape(rows, blocks * Q4K_BYTES)


def copy_field(w: GGUFWriter, key: str, field) -> None:
    t = field.types[0]
    if t == GGUFValueType.ARRAY:
        sub = field.types[1]
        items = [field.parts[i] for i in field.data]
        if sub == GGUFValueType.STRING:
            w.add_array(key, [bytes(x).decode('utf-8', errors='surrogateescape') for x in items])
        else:
            w.add_array(key, [x[0].item() for x in items])
        return
    v = field.parts[field.data[0]]
    if t == GGUFValueType.STRING:
        w.add_string(key, bytes(v).decode('utf-8'))
    elif t == GGUFValueType.UINT32:
        w.add_uint32(key, int(v[0]))
    elif t == GGUFValueType.INT32:
        w.add_int32(key, int(v[0]))
    elif t == GGUFValueType.FLOAT32:
        w.add_float32(key, float(v[0]))
    elif t == GGUFValueType.BOOL:
        w.add_bool(key, bool(v[0]))
    else:
        raise SystemExit(f'unhandled field type {t} for {key}')


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('template')
    p.add_argument('out')
    p.add_argument('--embd', type=int, default=4096)
    p.add_argument('--layers', type=int, default=32)
    p.add_argument('--heads', type=int, default=32)
    p.add_argument('--ff', type=int, default=11008)
    p.add_argument('--ctx', type=int, default=4096)
    p.add_argument('--name', default='random-llama-7b-shape-q4k')
    p.add_argument('--metadata-only', action='store_true')
    a = p.parse_args()
    rng = np.random.default_rng(7)
    r = GGUFReader(a.template)
    if a.metadata_only:
        w = GGUFWriter(a.out, bytes(r.fields['general.architecture'].parts[-1]).decode('utf-8'))
        for key, field in r.fields.items():
            if not key.startswith('GGUF.') and key != 'general.architecture':
                copy_field(w, key, field)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.close()
        return
    vocab = len(r.fields['tokenizer.ggml.tokens'].data)
    w = GGUFWriter(a.out, 'llama')
    for key, field in r.fields.items():
        if key.startswith('GGUF.') or key.startswith('llama.') or key in ('general.architecture', 'general.name', 'general.file_type'):
            continue
        copy_field(w, key, field)
    w.add_name(a.name)
    w.add_context_length(a.ctx)
    w.add_embedding_length(a.embd)
    w.add_block_count(a.layers)
    w.add_feed_forward_length(a.ff)
    w.add_head_count(a.heads)
    w.add_head_count_kv(a.heads)
    w.add_rope_dimension_count(a.embd // a.heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(vocab)
    w.add_file_type(15)  # MOSTLY_Q4_K_M (layers Q4_K here)

    emb = (rng.standard_normal((vocab, a.embd), dtype=np.float32) * 0.02).astype(np.float16)
    emb[:, 0] = 1000.0
    out = (rng.standard_normal((vocab, a.embd), dtype=np.float32) * 0.02).astype(np.float16)
    out[:, 0] = 0.0
    out[0:259, 0] = -20.0  # unk, bos, eos, <0x00>..<0xFF>
    norm_in = np.ones(a.embd, dtype=np.float32)
    norm_in[0] = 0.0  # layers do not see the constant dimension
    norm_out = np.ones(a.embd, dtype=np.float32)
    attn = q4k_random(a.embd, a.embd, rng, False)
    attn_o = q4k_random(a.embd, a.embd, rng, True)
    up = q4k_random(a.ff, a.embd, rng, False)
    down = q4k_random(a.embd, a.ff, rng, True)
    q4k = GGMLQuantizationType.Q4_K

    w.add_tensor('token_embd.weight', emb)
    for i in range(a.layers):
        w.add_tensor(f'blk.{i}.attn_norm.weight', norm_in)
        for n in ('attn_q', 'attn_k', 'attn_v'):
            w.add_tensor(f'blk.{i}.{n}.weight', attn, raw_dtype=q4k)
        w.add_tensor(f'blk.{i}.attn_output.weight', attn_o, raw_dtype=q4k)
        w.add_tensor(f'blk.{i}.ffn_norm.weight', norm_in)
        w.add_tensor(f'blk.{i}.ffn_gate.weight', up, raw_dtype=q4k)
        w.add_tensor(f'blk.{i}.ffn_up.weight', up, raw_dtype=q4k)
        w.add_tensor(f'blk.{i}.ffn_down.weight', down, raw_dtype=q4k)
    w.add_tensor('output_norm.weight', norm_out)
    w.add_tensor('output.weight', out)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == '__main__':
    main()
