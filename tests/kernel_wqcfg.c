/*
 * WQCFG as the Linux kernel lays it out, for tests/kernel_registers.rs.
 *
 * The kernel's layout (drivers/dma/idxd/registers.h, union wqcfg, kernel 6.x: with the ATS and
 * PRS disable bits and four op_config qwords) is not in the UAPI headers, so it cannot be
 * included. Its field positions are restated below as a table (dword, lowest bit, width), read
 * off that header; the program packs every field with a distinct value and prints the value
 * and the sixteen dwords the kernel would write.
 *
 *     val <case>.<field> <value>
 *     dwords <case> <16 hex dwords>
 */
#include <stdio.h>
#include <stdint.h>
#include <string.h>

struct field {
	const char *name;
	unsigned dword, lsb, width;
};

/* Position of each field of the 64-byte WQCFG entry. */
static const struct field fields[] = {
	{ "wq_size", 0, 0, 16 },
	{ "wq_thresh", 1, 0, 16 },
	{ "mode", 2, 0, 1 },
	{ "bof", 2, 1, 1 },
	{ "wq_ats_disable", 2, 2, 1 },
	{ "wq_prs_disable", 2, 3, 1 },
	{ "priority", 2, 4, 4 },
	{ "pasid", 2, 8, 20 },
	{ "pasid_en", 2, 28, 1 },
	{ "priv", 2, 29, 1 },
	{ "max_xfer_shift", 3, 0, 5 },
	{ "max_batch_shift", 3, 5, 4 },
	{ "occupancy_inth", 4, 0, 16 },
	{ "occupancy_table_sel", 4, 16, 1 },
	{ "occupancy_limit", 5, 0, 16 },
	{ "occupancy_int_en", 5, 16, 1 },
	{ "occupancy", 6, 0, 16 },
	{ "occupancy_int", 6, 16, 1 },
	{ "mode_support", 6, 29, 1 },
	{ "wq_state", 6, 30, 2 },
};

/* op_config: four qwords from dword 8 on, each low dword first. */
static uint32_t dw[16];
static const char *cur;

static const struct field *find(const char *name)
{
	for (unsigned i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (!strcmp(fields[i].name, name))
			return &fields[i];
	return NULL;
}

static int set(const char *name, unsigned long long v)
{
	const struct field *f = find(name);
	if (!f)
		return 1;
	uint32_t mask = f->width == 32 ? 0xffffffffu : ((1u << f->width) - 1);
	if (v & ~(unsigned long long)mask)
		return 1;
	dw[f->dword] = (dw[f->dword] & ~(mask << f->lsb)) | ((uint32_t)v << f->lsb);
	printf("val %s.%s %llu\n", cur, name, v);
	return 0;
}

static void set_op_config(int i, unsigned long long v)
{
	dw[8 + 2 * i] = (uint32_t)v;
	dw[9 + 2 * i] = (uint32_t)(v >> 32);
	printf("val %s.op_config[%d] %llu\n", cur, i, v);
}

static void dump(void)
{
	printf("dwords %s", cur);
	for (int i = 0; i < 16; i++)
		printf(" %08x", dw[i]);
	printf("\n");
}

int main(void)
{
	int bad = 0;

	/* Every field set, each single-bit flag to 1 (the "ones" case) ... */
	memset(dw, 0, sizeof dw);
	cur = "ones";
	bad |= set("wq_size", 0x1234);
	bad |= set("wq_thresh", 0x0567);
	bad |= set("mode", 1);
	bad |= set("bof", 1);
	bad |= set("wq_ats_disable", 1);
	bad |= set("wq_prs_disable", 1);
	bad |= set("priority", 0xa);
	bad |= set("pasid", 0xbcdef);
	bad |= set("pasid_en", 1);
	bad |= set("priv", 1);
	bad |= set("max_xfer_shift", 0x15);
	bad |= set("max_batch_shift", 0x9);
	bad |= set("occupancy_inth", 0x2468);
	bad |= set("occupancy_table_sel", 1);
	bad |= set("occupancy_limit", 0x1357);
	bad |= set("occupancy_int_en", 1);
	bad |= set("occupancy", 0x0f0e);
	bad |= set("occupancy_int", 1);
	bad |= set("mode_support", 1);
	bad |= set("wq_state", 2);
	set_op_config(0, 0x1111111122222222ull);
	set_op_config(1, 0x3333333344444444ull);
	set_op_config(2, 0x5555555566666666ull);
	set_op_config(3, 0x7777777788888888ull);
	dump();

	/* ... and one flag at a time, so that two swapped flags cannot cancel out. */
	const char *flags[] = { "mode", "bof", "wq_ats_disable", "wq_prs_disable", "pasid_en", "priv",
				"occupancy_table_sel", "occupancy_int_en", "occupancy_int", "mode_support" };
	for (unsigned i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		memset(dw, 0, sizeof dw);
		cur = flags[i];
		bad |= set(flags[i], 1);
		dump();
	}
	return bad;
}
