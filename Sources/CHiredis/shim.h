#ifndef BACKFILL_CHIREDIS_SHIM_H
#define BACKFILL_CHIREDIS_SHIM_H
// hiredis 0.14 (Debian's libhiredis-dev), RESP2 only. Only the argv API is used from Swift.
#include <hiredis/hiredis.h>
#endif
