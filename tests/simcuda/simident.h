/* simident.h - the identity of a simulated device (name, UUID), the same for
 * the simulated CUDA driver and the simulated NVML. Both derive it from the
 * physical index only, so a UUID names one device in every process. */
#ifndef SIMCUDA_SIMIDENT_H
#define SIMCUDA_SIMIDENT_H

#define SIM_DEVICE_NAME "cuslice simulated GPU"

/* "GPU-" plus 36 characters of UUID text. */
#define SIM_UUID_TEXT_LEN 40

/* The 16 UUID bytes of physical device phys: 51 5e cd a0 51 73 40 00 80 00
 * 00 00 00 00 00 <phys>. */
void sim_uuid_bytes(int phys, unsigned char out[16]);

/* The printed form, "GPU-515ecda0-5173-4000-8000-0000000000NN"; out holds
 * SIM_UUID_TEXT_LEN + 1 bytes. */
void sim_uuid_text(int phys, char out[SIM_UUID_TEXT_LEN + 1]);

#endif /* SIMCUDA_SIMIDENT_H */
