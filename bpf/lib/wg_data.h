/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wg_data.h - the WireGuard suite's data messages in the datapath: what
 * tc_seal, tc_open and tc_keepalive run for an SA installed with
 * BPFTUN_SA_F_WIREGUARD (docs/protocol.md, "The WireGuard suite"). The
 * cipher is wg_aead.h's ChaCha20-Poly1305, here on the datapath's scratch
 * layout (aead.h's struct bpftun_scratch):
 *   buf[0 .. 16)           the header: type 4, three zero bytes, le32
 *                          receiver index, le64 counter (no flow mark)
 *   buf[16 .. 16 + plen)   plaintext zero-padded to plen, then ciphertext
 *   buf[16 + plen ..)      the tag, then zeros (the UDP checksum's padding)
 *   ks[0 .. 64)            the Poly1305 one-time key (ChaCha20 block 0)
 *   ks[64 .. 96)           this packet's copy of the SA key
 * The key is copied from the SA's map value once per packet, so that the
 * tag check and the decryption of one packet use the same key even if the
 * SA is replaced meanwhile, and both copies are wiped before the program
 * returns (wg_wipe).
 *
 * A copy with a zero 64-bit word is refused (no_sa): sa_ctl zeroes a key in
 * place when it clears a slot, and fills a new rx entry after inserting it
 * zeroed, so a packet racing with either could otherwise read a key that is
 * zero in part or whole (and open a forgery under it, or seal under it).
 * sa_ctl refuses such a key at install (a derived key has one with
 * probability 2^-62), so a legitimate key never fails this. A copy that mixes
 * an old and a new key's words (a slot re-keyed during the copy) is a
 * secret key as strong as either, used with a counter no other message of
 * the slot has: the peer drops that one message as bad_tag.
 */
#ifndef BPFTUN_WG_DATA_H
#define BPFTUN_WG_DATA_H

#include "maps.h"
#include "wg_aead.h"

#define WG_KS_OTK 0  /* ks offset of the one-time key */
#define WG_KS_KEY 64 /* ks offset of the key copy */

/* WireGuard pads the plaintext with zeros to a multiple of 16, but never
 * past the device MTU (calculate_skb_padding in the kernel module's send.c,
 * reproduced here: no MTU known -> plain rounding; a packet larger than the
 * MTU is padded as its remainder). mtu is the tunnel device's. */
static __always_inline __u32 wg_padded_len(__u32 len, __u32 mtu)
{
	__u32 last = len, padded;

	if (!mtu)
		return round16(len);
	if (last > mtu)
		last %= mtu;
	padded = round16(last);
	if (padded > mtu)
		padded = mtu;
	return len + (padded - last);
}

/* The key copy and the one-time key, gone. */
static __always_inline void wg_wipe(struct bpftun_scratch *s)
{
	__u64 *p = (__u64 *)s->ks;

	for (int i = 0; i < (WG_KS_KEY + 32) / 8; i++)
		*(volatile __u64 *)&p[i] = 0;
}

/* Copy the SA's key into scratch; NULL (nothing left in scratch) if a word
 * of the copy is zero: a key being cleared or not yet written. */
static __always_inline const __u32 *wg_key_load(struct bpftun_scratch *s, const __u64 *key)
{
	__u64 *d = (__u64 *)(s->ks + WG_KS_KEY);

	d[0] = *(volatile const __u64 *)&key[0];
	d[1] = *(volatile const __u64 *)&key[1];
	d[2] = *(volatile const __u64 *)&key[2];
	d[3] = *(volatile const __u64 *)&key[3];
	if (!d[0] || !d[1] || !d[2] || !d[3]) {
		wg_wipe(s);
		return NULL;
	}
	return (const __u32 *)d;
}

/* Seal s->buf[16 .. 16 + len), padded to plen (>= len), in place with key
 * and counter, the tag right after the ciphertext and 8 zero bytes after
 * the tag. The header is the caller's. 0 or BPFTUN_DROP_NO_SA. */
static __always_inline int wg_seal(struct bpftun_scratch *s, const __u64 *key, __u64 counter,
				   __u32 len, __u32 plen)
{
	const __u32 *k = wg_key_load(s, key);
	__u8 *b = s->buf + BPFTUN_HDR_LEN;
	__u64 t0, t1;
	__u8 *tp;

	if (!k)
		return BPFTUN_DROP_NO_SA;
	/* the padding: zeros from len to the next 16-byte boundary (and on) */
	aead_zero_tail(s, len);
	wg_aead_seal_at(k, counter, b, (__u64 *)(s->ks + WG_KS_OTK), plen, &t0, &t1);
	wg_wipe(s);
	tp = b + (plen & BPFTUN_SCRATCH_MASK);
	*(__u64 *)(tp + 0) = t0;
	*(__u64 *)(tp + 8) = t1;
	*(__u64 *)(tp + 16) = 0;
	return 0;
}

/* Check the tag (r0, r1) of the ciphertext s->buf[16 .. 16 + len) and, only
 * if it matches, decrypt it in place: 0, BPFTUN_DROP_BAD_TAG, or
 * BPFTUN_DROP_NO_SA (see wg_key_load). As WireGuard, the decryption comes
 * before the replay check. */
static __always_inline int wg_open(struct bpftun_scratch *s, const __u64 *key, __u64 counter,
				   __u32 len, __u64 r0, __u64 r1)
{
	const __u32 *k = wg_key_load(s, key);
	__u8 *b = s->buf + BPFTUN_HDR_LEN;
	__u64 t0, t1;

	if (!k)
		return BPFTUN_DROP_NO_SA;
	wg_aead_verify_tag_at(k, counter, b, (__u64 *)(s->ks + WG_KS_OTK), len, &t0, &t1);
	/* one branch on the whole difference, as in open_verify */
	t0 = (t0 ^ r0) | (t1 ^ r1);
	barrier_var(t0);
	if (t0) {
		wg_wipe(s);
		return BPFTUN_DROP_BAD_TAG;
	}
	wg_aead_decrypt_at(k, counter, b, len);
	wg_wipe(s);
	return 0;
}

/* The inner packet's length from its own IP header (WireGuard's receive
 * path: IPv4 total length, or 40 + IPv6 payload length), which must fit in
 * the plaintext of *lenp bytes; *lenp becomes it, so the padding is cut.
 * Anything that is not IPv4 or IPv6, or claims more than it holds, is
 * malformed. */
static __always_inline int wg_inner_len(struct bpftun_scratch *s, __u32 *lenp)
{
	const __u8 *ip = s->buf + BPFTUN_HDR_LEN;
	__u32 len = *lenp, ilen;

	if ((ip[0] >> 4) == 4) {
		if (len < 20)
			return BPFTUN_DROP_MALFORMED;
		ilen = (__u32)ip[2] << 8 | ip[3];
		if (ilen < 20)
			return BPFTUN_DROP_MALFORMED;
	} else if ((ip[0] >> 4) == 6) {
		if (len < 40)
			return BPFTUN_DROP_MALFORMED;
		ilen = 40 + ((__u32)ip[4] << 8 | ip[5]);
	} else {
		return BPFTUN_DROP_MALFORMED;
	}
	if (ilen > len)
		return BPFTUN_DROP_MALFORMED;
	*lenp = ilen;
	return 0;
}

#endif /* BPFTUN_WG_DATA_H */
