/*
 * WQCFG as the Linux kernel lays it out, for tests/kernel_registers.rs.
 *
 * The union below is transcribed from drivers/dma/idxd/registers.h (union wqcfg, kernel 6.x:
 * with wq_ats_disable, wq_prs_disable and op_config[4]); it is not in the UAPI headers, so it
 * cannot be included. The compiler lays the bit-fields out; the program gives every field a
 * distinct value and prints the value and the sixteen dwords the kernel would write.
 *
 *     val <case>.<field> <value>
 *     dwords <case> <16 hex dwords>
 */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

union wqcfg {
	struct {
		/* bytes 0-3 */
		u16 wq_size;
		u16 rsvd;

		/* bytes 4-7 */
		u16 wq_thresh;
		u16 rsvd1;

		/* bytes 8-11 */
		u32 mode:1;	/* shared or dedicated */
		u32 bof:1;	/* block on fault */
		u32 wq_ats_disable:1;
		u32 wq_prs_disable:1;
		u32 priority:4;
		u32 pasid:20;
		u32 pasid_en:1;
		u32 priv:1;
		u32 rsvd3:2;

		/* bytes 12-15 */
		u32 max_xfer_shift:5;
		u32 max_batch_shift:4;
		u32 rsvd4:23;

		/* bytes 16-19 */
		u16 occupancy_inth;
		u16 occupancy_table_sel:1;
		u16 rsvd5:15;

		/* bytes 20-23 */
		u16 occupancy_limit;
		u16 occupancy_int_en:1;
		u16 rsvd6:15;

		/* bytes 24-27 */
		u16 occupancy;
		u16 occupancy_int:1;
		u16 rsvd7:12;
		u16 mode_support:1;
		u16 wq_state:2;

		/* bytes 28-31 */
		u32 rsvd8;

		/* bytes 32-63 */
		u64 op_config[4];
	};
	u32 bits[16];
} __attribute__((packed));

static const char *cur;
#define SET(f, x) do { w.f = (x); printf("val %s.%s %llu\n", cur, #f, (unsigned long long)w.f); } while (0)

static void dump(const union wqcfg *w)
{
	printf("dwords %s", cur);
	for (int i = 0; i < 16; i++)
		printf(" %08x", w->bits[i]);
	printf("\n");
}

int main(void)
{
	union wqcfg w;

	if (sizeof w != 64)
		return 1;

	/* Every field set, each single-bit flag to 1 (the "ones" case) ... */
	memset(&w, 0, sizeof w);
	cur = "ones";
	SET(wq_size, 0x1234);
	SET(wq_thresh, 0x0567);
	SET(mode, 1);
	SET(bof, 1);
	SET(wq_ats_disable, 1);
	SET(wq_prs_disable, 1);
	SET(priority, 0xa);
	SET(pasid, 0xbcdef);
	SET(pasid_en, 1);
	SET(priv, 1);
	SET(max_xfer_shift, 0x15);
	SET(max_batch_shift, 0x9);
	SET(occupancy_inth, 0x2468);
	SET(occupancy_table_sel, 1);
	SET(occupancy_limit, 0x1357);
	SET(occupancy_int_en, 1);
	SET(occupancy, 0x0f0e);
	SET(occupancy_int, 1);
	SET(mode_support, 1);
	SET(wq_state, 2);
	SET(op_config[0], 0x1111111122222222ull);
	SET(op_config[1], 0x3333333344444444ull);
	SET(op_config[2], 0x5555555566666666ull);
	SET(op_config[3], 0x7777777788888888ull);
	dump(&w);

	/* ... and one flag at a time, so that two swapped flags cannot cancel out. */
	const char *flags[] = { "mode", "bof", "wq_ats_disable", "wq_prs_disable", "pasid_en", "priv",
				"occupancy_table_sel", "occupancy_int_en", "occupancy_int", "mode_support" };
	for (unsigned i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		memset(&w, 0, sizeof w);
		cur = flags[i];
		switch (i) {
		case 0: SET(mode, 1); break;
		case 1: SET(bof, 1); break;
		case 2: SET(wq_ats_disable, 1); break;
		case 3: SET(wq_prs_disable, 1); break;
		case 4: SET(pasid_en, 1); break;
		case 5: SET(priv, 1); break;
		case 6: SET(occupancy_table_sel, 1); break;
		case 7: SET(occupancy_int_en, 1); break;
		case 8: SET(occupancy_int, 1); break;
		case 9: SET(mode_support, 1); break;
		}
		dump(&w);
	}
	return 0;
}
