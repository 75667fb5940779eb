/*
 * insncount.c - QEMU TCG plugin (linux-user) for edgekd's ARM cost figure.
 *
 * Counts guest instructions executed by ONE guest thread between a start
 * and a stop marker that the guest program emits itself.
 *
 * Marker: an otherwise unused syscall number, MARK_NR (0xED6E = 60782), with
 * arg1 == MARK_MAGIC (0x45444B44, "EDKD"), arg2 == 1 (start) or 2 (stop),
 * arg3 == a caller-chosen tag (e.g. the inference index).  QEMU reports
 * every syscall to plugins before dispatching it, then returns -ENOSYS to
 * the guest, so the marker has no side effect (on real ARM hardware the
 * kernel returns -ENOSYS too).  Python emits it with
 *   ctypes.CDLL(None).syscall(60782, 0x45444B44, 1, tag)
 *
 * Counting: one callback per executed translation block adds the block's
 * instruction count to a per-vCPU counter (in user mode, one vCPU == one
 * guest thread).  The window's figure is the delta of the marking thread's
 * own counter between start and stop; the delta summed over all threads is
 * reported as well (to see background threads).  A block is counted when it
 * starts, so a block left early (fault/signal) is counted whole: this is
 * deterministic for a deterministic program.
 *
 * Plugin args:  out=PATH   append one line per window to PATH (default: stderr)
 * Output line:  window tag=T vcpu=V insns=N all_threads=M
 *
 * Written for the QEMU 7.2 plugin API (QEMU_PLUGIN_VERSION 1).
 */
#include <glib.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MARK_NR    60782        /* 0xED6E */
#define MARK_MAGIC 0x45444B44u  /* "EDKD" */
#define MAX_VCPUS  4096

typedef struct {
    uint64_t n;           /* instructions executed by this vcpu (thread) */
    uint64_t start_own;   /* n at start marker */
    uint64_t start_all;   /* sum over all vcpus at start marker */
    int64_t tag;
    int active;
    char pad[64];         /* keep counters on separate cache lines */
} vcpu_ctr;

static vcpu_ctr ctr[MAX_VCPUS];
static unsigned max_vcpu_seen;
static FILE *out;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t windows;

static uint64_t sum_all(void)
{
    uint64_t s = 0;
    for (unsigned i = 0; i <= max_vcpu_seen && i < MAX_VCPUS; i++) {
        s += __atomic_load_n(&ctr[i].n, __ATOMIC_RELAXED);
    }
    return s;
}

static void tb_exec(unsigned int vcpu, void *udata)
{
    if (vcpu < MAX_VCPUS) {
        __atomic_store_n(&ctr[vcpu].n, ctr[vcpu].n + (uintptr_t)udata,
                         __ATOMIC_RELAXED);
    }
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS,
                                         (void *)(uintptr_t)n);
}

static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu)
{
    pthread_mutex_lock(&out_lock);
    if (vcpu >= MAX_VCPUS) {
        fprintf(stderr, "insncount: vcpu %u >= %d not counted\n", vcpu, MAX_VCPUS);
    } else if (vcpu > max_vcpu_seen) {
        max_vcpu_seen = vcpu;
    }
    pthread_mutex_unlock(&out_lock);
}

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu, int64_t num,
                       uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                       uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8)
{
    if (num != MARK_NR || (uint32_t)a1 != MARK_MAGIC || vcpu >= MAX_VCPUS) {
        return;
    }
    vcpu_ctr *c = &ctr[vcpu];
    if (a2 == 1) {
        c->tag = (int64_t)a3;
        c->active = 1;
        c->start_all = sum_all();
        c->start_own = c->n;
    } else if (a2 == 2 && c->active) {
        uint64_t own = c->n - c->start_own;
        uint64_t all = sum_all() - c->start_all;
        c->active = 0;
        pthread_mutex_lock(&out_lock);
        fprintf(out, "window tag=%" PRId64 " vcpu=%u insns=%" PRIu64
                " all_threads=%" PRIu64 "\n", c->tag, vcpu, own, all);
        fflush(out);
        windows++;
        pthread_mutex_unlock(&out_lock);
    }
}

static void plugin_exit(qemu_plugin_id_t id, void *p)
{
    pthread_mutex_lock(&out_lock);
    fprintf(out, "exit windows=%" PRIu64 " vcpus_seen=%u total_insns=%" PRIu64 "\n",
            windows, max_vcpu_seen + 1, sum_all());
    fflush(out);
    if (out != stderr) {
        fclose(out);
        out = stderr;
    }
    pthread_mutex_unlock(&out_lock);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
                                           const qemu_info_t *info,
                                           int argc, char **argv)
{
    out = stderr;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0) {
            out = fopen(argv[i] + 4, "a");
            if (!out) {
                perror("insncount: out=");
                return -1;
            }
        } else {
            fprintf(stderr, "insncount: unknown argument %s\n", argv[i]);
            return -1;
        }
    }
    if (info->system_emulation) {
        fprintf(stderr, "insncount: user-mode (qemu-aarch64) only\n");
        return -1;
    }
    qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
    return 0;
}
