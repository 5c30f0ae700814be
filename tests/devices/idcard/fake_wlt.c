/* A stand-in for a reader vendor's WLT photo library, with the same C ABI as the two
 * calling conventions the kiosk supports: `unpack(wlt, bmp, flag)` (in memory) and
 * `Wlt2Bmp(wlt_path, bmp_path)` (files). It "decodes" by spreading the input bytes over
 * a 102x126 24-bit BMP, so a test can check which bytes reached it. Returns 1 on success.
 */
#include <stdio.h>
#include <string.h>

#define W 102
#define H 126
#define STRIDE 308
#define SIZE (54 + STRIDE * H)

static void le32(unsigned char *p, unsigned v) {
    p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; p[2] = (v >> 16) & 0xff; p[3] = (v >> 24) & 0xff;
}

static int make_bmp(const unsigned char *wlt, unsigned char *out) {
    if (wlt[0] != 'W' || wlt[1] != 'L')
        return 0; /* not a WLT photo */
    memset(out, 0, SIZE);
    out[0] = 'B'; out[1] = 'M';
    le32(out + 2, SIZE); le32(out + 10, 54); le32(out + 14, 40);
    le32(out + 18, W); le32(out + 22, H);
    out[26] = 1; out[28] = 24;
    le32(out + 34, STRIDE * H);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W * 3; x++)
            out[54 + y * STRIDE + x] = wlt[(y * W * 3 + x) % 1024];
    return 1;
}

int unpack(const char *wlt, char *bmp, int flag) {
    if (flag != 602)
        return -2;
    return make_bmp((const unsigned char *)wlt, (unsigned char *)bmp);
}

int Wlt2Bmp(const char *wlt_path, const char *bmp_path) {
    unsigned char wlt[1024];
    static unsigned char bmp[SIZE];
    FILE *f = fopen(wlt_path, "rb");
    if (!f) return -1;
    size_t n = fread(wlt, 1, sizeof wlt, f);
    fclose(f);
    if (n != sizeof wlt || !make_bmp(wlt, bmp)) return -3;
    f = fopen(bmp_path, "wb");
    if (!f) return -1;
    fwrite(bmp, 1, SIZE, f);
    fclose(f);
    return 1;
}
