/*
 * The event frames the spawn addon hands to hookd in batches passed to a JavaScript callback
 * (src/executor/addon-spawner.ts reads them). Every frame is
 *   u32 length-of-the-rest, u8 type, u32 id, then the payload by type (see spawn-addon.c);
 * all integers little-endian.
 */
#ifndef HOOKD_SPAWN_EVENTS_H
#define HOOKD_SPAWN_EVENTS_H

#include <stdint.h>

enum {
	EV_SPAWNED = 1,
	EV_SPAWN_ERROR = 2,
	EV_STDOUT = 3,
	EV_STDERR = 4,
	EV_EOF_STDOUT = 5,
	EV_EOF_STDERR = 6,
	EV_EXITED = 7,
};

#define READ_CHUNK 65536u /* bytes per read from a child pipe (one STDOUT/STDERR event) */
#define EVENT_HEADER 9u   /* u32 length + u8 type + u32 id */

static inline uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

#endif
