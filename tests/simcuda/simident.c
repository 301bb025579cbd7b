/* simident.c - the identity of a simulated device (see simident.h). */
#include "simident.h"

#include <stdio.h>
#include <string.h>

static const unsigned char sim_uuid_prefix[15] = {
    0x51, 0x5e, 0xcd, 0xa0, 0x51, 0x73, 0x40, 0x00,
    0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

void sim_uuid_bytes(int phys, unsigned char out[16])
{
    memcpy(out, sim_uuid_prefix, sizeof(sim_uuid_prefix));
    out[15] = (unsigned char)phys;
}

void sim_uuid_text(int phys, char out[SIM_UUID_TEXT_LEN + 1])
{
    static const int dash_after[] = { 4, 6, 8, 10 };
    unsigned char b[16];
    char *p = out;
    size_t d = 0;

    sim_uuid_bytes(phys, b);
    p += sprintf(p, "GPU-");
    for (int i = 0; i < 16; i++) {
        if (d < 4 && i == dash_after[d]) {
            *p++ = '-';
            d++;
        }
        p += sprintf(p, "%02x", b[i]);
    }
}
