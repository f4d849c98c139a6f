/* The batch's ordered pass, compiled: SPEC 3.2-3.5 for the contacts the kernel covers.

   The Python pass (engine/batch.py `_assign_in_order`, candidates.py, choice.py) is the reference; this
   makes the same steps over plain arrays. Each user, by rank (its place in `PassKeys.ranked`), has its
   open count and assignment order here; the kernel writes the users it changed back to their `User`
   objects when it hands over to the Python pass (`leave`) and reads again the ones Python changed
   (`load`, and `fell` for the counts that fell). The kernel's candidate sets are its own for the whole
   pass: a least-open set's heap is an int64 copy of its `RisingKeyHeap` (the same packed keys, the same
   lazy refresh), a round-robin set keeps its members' ranks and its "nobody passed" flag. A pool's
   cursor, which sets outside the kernel share, is handed over as text; here it is a code: 2 * rank for
   a user's id, 2 * k - 1 for an id that sorts between ranks k - 1 and k, -1 for none, so "after the
   cursor" is one integer compare. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

enum { NOT_IN_KERNEL = 0, LEAST_OPEN = 1, ROUND_ROBIN = 2 };
enum { NOBODY = -1, NOT_A_USER = -2 }; /* a contact's previous assignee: none, or an id no user has */

typedef struct {
    int kind;
    /* least-open: the heap of keys, and the bound they must be below (when `bounded`) */
    long long *heap;
    Py_ssize_t heap_size, heap_capacity;
    int bounded;
    long long bound;
    /* round-robin: members' ranks, in id order; the cap (when `capped`); the pool whose cursor it follows */
    long long *members;
    Py_ssize_t count;
    int capped;
    long long below;
    Py_ssize_t pool;
    int exhausted;
    long long chosen; /* the cursor code of the member last chosen, and where the turn goes on from it */
    Py_ssize_t after;
} KernelSet;

typedef struct {
    PyObject_HEAD
    PyObject *users, *ids, *rank_of, *now, *cursors, *pool_keys, *record_fall;
    long long span, size, next_order, first_order;
    Py_ssize_t n, contacts;
    long long *open, *order;
    unsigned char *dirty;
    Py_ssize_t *dirty_list, dirty_count;
    long long *sets_of_user_start, *sets_of_user; /* the kernel's sets holding each user (CSR by rank) */
    Py_buffer set_of, place, previous, out_position, out_place, out_failed, out_code;
    Py_ssize_t assigned, failed;
    Py_ssize_t set_count;
    KernelSet *sets;
    Py_ssize_t pool_count;
    long long *cursor;
    PyObject **cursor_seen; /* the text each cursor code was read from or written as (strong refs) */
    unsigned char *cursor_moved;
} Pass;

static PyObject *OPEN, *ASSIGNED_ORDER, *LAST_ASSIGNED_AT;

/* -------------------------------------------------------------- the heap (CPython's heapq steps) */

static void sift_down(long long *heap, Py_ssize_t start, Py_ssize_t position)
{
    long long key = heap[position];
    while (position > start) {
        Py_ssize_t parent = (position - 1) >> 1;
        if (!(key < heap[parent]))
            break;
        heap[position] = heap[parent];
        position = parent;
    }
    heap[position] = key;
}

static void sift_up(long long *heap, Py_ssize_t end, Py_ssize_t position)
{
    Py_ssize_t start = position, limit = end >> 1;
    long long key = heap[position];
    while (position < limit) {
        Py_ssize_t child = 2 * position + 1;
        if (child + 1 < end && !(heap[child] < heap[child + 1]))
            child += 1;
        heap[position] = heap[child];
        position = child;
    }
    heap[position] = key;
    sift_down(heap, start, position);
}

static int heap_push(KernelSet *set, long long key)
{
    if (set->heap_size == set->heap_capacity) {
        Py_ssize_t capacity = set->heap_capacity ? 2 * set->heap_capacity : 8;
        long long *heap = realloc(set->heap, sizeof(long long) * capacity);
        if (heap == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        set->heap = heap;
        set->heap_capacity = capacity;
    }
    set->heap[set->heap_size++] = key;
    sift_down(set->heap, 0, set->heap_size - 1);
    return 0;
}

static void heap_pop(KernelSet *set)
{
    long long last = set->heap[--set->heap_size];
    if (set->heap_size) {
        set->heap[0] = last;
        sift_up(set->heap, set->heap_size, 0);
    }
}

/* ---------------------------------------------------------------------------------- choosing */

static inline long long key_now(Pass *self, long long rank)
{
    return (self->open[rank] * self->span + self->order[rank] + 1) * self->size + rank;
}

/* `RisingKeyHeap.choose_below`: the rank of the least-open user when its key is below the bound; -1 none. */
static long long choose_least_open(Pass *self, KernelSet *set)
{
    long long *heap = set->heap;
    while (set->heap_size) {
        long long key = heap[0], rank = key % self->size, now_key = key_now(self, rank);
        if (now_key == key)
            return (!set->bounded || key < set->bound) ? rank : -1;
        if (now_key > key) {
            heap[0] = now_key;
            sift_up(heap, set->heap_size, 0);
        } else { /* a smaller entry was pushed when the key fell */
            heap_pop(set);
        }
    }
    return -1;
}

static Py_ssize_t first_after(KernelSet *set, long long cursor)
{
    /* how many members sort at or before the cursor (bisect_right), wrapping round */
    Py_ssize_t low = 0, high = set->count;
    while (low < high) {
        Py_ssize_t middle = (low + high) / 2;
        if (cursor < 2 * set->members[middle])
            high = middle;
        else
            low = middle + 1;
    }
    return low % set->count;
}

static long long chosen_member(KernelSet *set, Py_ssize_t index)
{
    set->chosen = 2 * set->members[index];
    set->after = (index + 1) % set->count;
    return set->members[index];
}

/* `RoundRobinSet.choose(None)`: the first member after the pool's cursor under the cap; -1 none. */
static long long choose_round_robin(Pass *self, KernelSet *set)
{
    if (!set->count) {
        set->exhausted = 1;
        return -1;
    }
    long long cursor = self->cursor[set->pool];
    Py_ssize_t start = cursor == set->chosen ? set->after : first_after(set, cursor);
    if (!set->capped)
        return chosen_member(set, start);
    if (set->exhausted)
        return -1;
    for (Py_ssize_t step = 0; step < set->count; step++) {
        Py_ssize_t index = start + step;
        if (index >= set->count)
            index -= set->count;
        if (self->open[set->members[index]] < set->below)
            return chosen_member(set, index);
    }
    set->exhausted = 1; /* the kernel's sets are monotone: caps only */
    return -1;
}

/* -------------------------------------------------------------------------------------- counts */

static void mark(Pass *self, long long rank)
{
    if (!self->dirty[rank]) {
        self->dirty[rank] = 1;
        self->dirty_list[self->dirty_count++] = (Py_ssize_t)rank;
    }
}

/* `FallenCounts.catch_up` for one user: the kernel's sets holding it hear its count fell. */
static int key_fell(Pass *self, long long rank)
{
    for (long long at = self->sets_of_user_start[rank]; at < self->sets_of_user_start[rank + 1]; at++) {
        KernelSet *set = &self->sets[self->sets_of_user[at]];
        set->exhausted = 0;
        if (set->kind == LEAST_OPEN && heap_push(set, key_now(self, rank)) < 0)
            return -1;
    }
    return 0;
}

/* `Roster.take_away`, journalled as the Python pass journals it, then the sets told. */
static int take_away(Pass *self, long long rank)
{
    if (self->open[rank] <= 0)
        return 0;
    self->open[rank] -= 1;
    mark(self, rank);
    PyObject *done = PyObject_CallOneArg(self->record_fall, PyList_GET_ITEM(self->ids, rank));
    if (done == NULL)
        return -1;
    Py_DECREF(done);
    return key_fell(self, rank);
}

/* `Roster.give_unjournalled` (and the catch-up after it). */
static int give(Pass *self, long long rank, long long previous)
{
    if (previous != rank) {
        self->open[rank] += 1;
        if (previous >= 0 && take_away(self, previous) < 0)
            return -1;
    }
    self->order[rank] = self->next_order++;
    mark(self, rank);
    return 0;
}

/* A view of an int64 array (a NumPy one, say); on error, none is held and an exception is set. */
static int int64_view(PyObject *object, Py_buffer *view, int writable)
{
    if (PyObject_GetBuffer(object, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    const char *format = view->format ? view->format : "B";
    if (*format == '@' || *format == '=' || *format == '<')
        format++;
    if (view->itemsize != sizeof(long long) || (strcmp(format, "l") && strcmp(format, "q"))) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "an int64 array is needed");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ the pass */

static PyObject *Pass_run(Pass *self, PyObject *arg)
{
    Py_buffer positions;
    if (int64_view(arg, &positions, 0) < 0)
        return NULL;
    const long long *at = positions.buf, *set_of = self->set_of.buf, *place = self->place.buf;
    const long long *previous = self->previous.buf;
    long long *out_position = self->out_position.buf, *out_place = self->out_place.buf;
    long long *out_failed = self->out_failed.buf, *out_code = self->out_code.buf;
    Py_ssize_t count = positions.len / (Py_ssize_t)sizeof(long long);
    for (Py_ssize_t step = 0; step < count; step++) {
        long long position = at[step], set_index, rank;
        if (position < 0 || position >= self->contacts) {
            PyErr_SetString(PyExc_IndexError, "a position out of range");
            break;
        }
        set_index = set_of[position];
        if (set_index >= 0) {
            if (set_index >= self->set_count || self->sets[set_index].kind == NOT_IN_KERNEL) {
                PyErr_SetString(PyExc_ValueError, "a contact of a set the kernel does not cover");
                break;
            }
            KernelSet *set = &self->sets[set_index];
            if (set->kind == LEAST_OPEN) {
                rank = choose_least_open(self, set);
            } else {
                rank = choose_round_robin(self, set);
                if (rank >= 0) {
                    self->cursor[set->pool] = 2 * rank;
                    self->cursor_moved[set->pool] = 1;
                }
            }
            if (rank < 0) /* queued */
                continue;
        } else {
            rank = place[position]; /* a user route's target */
            if (rank >= self->n) {
                PyErr_SetString(PyExc_IndexError, "a target out of range");
                break;
            }
            if (rank < 0) {
                out_failed[self->failed] = position;
                out_code[self->failed++] = rank;
                continue;
            }
        }
        if (self->assigned >= self->contacts) {
            PyErr_SetString(PyExc_RuntimeError, "more assignments than contacts");
            break;
        }
        if (previous[position] >= self->n) {
            PyErr_SetString(PyExc_IndexError, "a previous assignee out of range");
            break;
        }
        if (give(self, rank, previous[position]) < 0)
            break;
        out_position[self->assigned] = position;
        out_place[self->assigned++] = rank;
    }
    PyBuffer_Release(&positions);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static int load_rank(Pass *self, Py_ssize_t rank)
{
    PyObject *user = PyList_GET_ITEM(self->users, rank);
    PyObject *open = PyObject_GetAttr(user, OPEN);
    if (open == NULL)
        return -1;
    self->open[rank] = PyLong_AsLongLong(open);
    Py_DECREF(open);
    PyObject *order = PyObject_GetAttr(user, ASSIGNED_ORDER);
    if (order == NULL)
        return -1;
    self->order[rank] = PyLong_AsLongLong(order);
    Py_DECREF(order);
    return PyErr_Occurred() ? -1 : 0;
}

/* Each rank of an int64 buffer, checked, to `step`. */
static PyObject *for_each_rank(Pass *self, PyObject *arg, int (*step)(Pass *, long long))
{
    Py_buffer ranks;
    if (int64_view(arg, &ranks, 0) < 0)
        return NULL;
    const long long *rank = ranks.buf;
    Py_ssize_t count = ranks.len / (Py_ssize_t)sizeof(long long);
    for (Py_ssize_t index = 0; index < count; index++) {
        if (rank[index] < 0 || rank[index] >= self->n) {
            PyErr_SetString(PyExc_IndexError, "a rank out of range");
            break;
        }
        if (step(self, rank[index]) < 0)
            break;
    }
    PyBuffer_Release(&ranks);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static int load_one(Pass *self, long long rank) { return load_rank(self, (Py_ssize_t)rank); }

static PyObject *Pass_load(Pass *self, PyObject *arg) { return for_each_rank(self, arg, load_one); }

static PyObject *Pass_fell(Pass *self, PyObject *arg) { return for_each_rank(self, arg, key_fell); }

static long long cursor_code(Pass *self, PyObject *cursor, int *error)
{
    if (cursor == NULL || cursor == Py_None)
        return -1;
    PyObject *rank = PyDict_GetItemWithError(self->rank_of, cursor);
    if (rank != NULL)
        return 2 * PyLong_AsLongLong(rank);
    if (PyErr_Occurred()) {
        *error = 1;
        return -1;
    }
    Py_ssize_t low = 0, high = self->n; /* how many ids sort before it */
    while (low < high) {
        Py_ssize_t middle = (low + high) / 2;
        int less = PyObject_RichCompareBool(PyList_GET_ITEM(self->ids, middle), cursor, Py_LT);
        if (less < 0) {
            *error = 1;
            return -1;
        }
        if (less)
            low = middle + 1;
        else
            high = middle;
    }
    return 2 * (long long)low - 1;
}

/* enter(next_order): the cursors as the Python pass left them, and the next assignment's order. */
static PyObject *Pass_enter(Pass *self, PyObject *arg)
{
    self->next_order = PyLong_AsLongLong(arg);
    if (PyErr_Occurred())
        return NULL;
    int error = 0;
    for (Py_ssize_t pool = 0; pool < self->pool_count; pool++) {
        PyObject *cursor = PyDict_GetItemWithError(self->cursors, PyList_GET_ITEM(self->pool_keys, pool));
        if (cursor == NULL && PyErr_Occurred())
            return NULL;
        self->cursor_moved[pool] = 0;
        if (cursor != NULL && cursor == self->cursor_seen[pool])
            continue;
        self->cursor[pool] = cursor_code(self, cursor, &error);
        if (error)
            return NULL;
        Py_XINCREF(cursor);
        Py_XSETREF(self->cursor_seen[pool], cursor);
    }
    Py_RETURN_NONE;
}

static int set_long(PyObject *object, PyObject *name, long long value)
{
    PyObject *number = PyLong_FromLongLong(value);
    if (number == NULL)
        return -1;
    int result = PyObject_SetAttr(object, name, number);
    Py_DECREF(number);
    return result;
}

/* leave() -> next_order: the users and cursors the kernel changed, written back. */
static PyObject *Pass_leave(Pass *self, PyObject *Py_UNUSED(ignored))
{
    for (Py_ssize_t index = 0; index < self->dirty_count; index++) {
        Py_ssize_t rank = self->dirty_list[index];
        PyObject *user = PyList_GET_ITEM(self->users, rank);
        if (set_long(user, OPEN, self->open[rank]) < 0 || set_long(user, ASSIGNED_ORDER, self->order[rank]) < 0)
            return NULL;
        /* given a contact in this pass (not only one taken away): assigned now */
        if (self->order[rank] >= self->first_order && PyObject_SetAttr(user, LAST_ASSIGNED_AT, self->now) < 0)
            return NULL;
        self->dirty[rank] = 0;
    }
    self->dirty_count = 0;
    for (Py_ssize_t pool = 0; pool < self->pool_count; pool++) {
        if (!self->cursor_moved[pool])
            continue;
        PyObject *id = PyList_GET_ITEM(self->ids, self->cursor[pool] / 2);
        if (PyDict_SetItem(self->cursors, PyList_GET_ITEM(self->pool_keys, pool), id) < 0)
            return NULL;
        Py_INCREF(id);
        Py_XSETREF(self->cursor_seen[pool], id);
        self->cursor_moved[pool] = 0;
    }
    return PyLong_FromLongLong(self->next_order);
}

/* exhausted(out): out[i] = 1 where set i is the kernel's and nobody in it passes (`CandidateSet.exhausted`). */
static PyObject *Pass_exhausted(Pass *self, PyObject *arg)
{
    Py_buffer out;
    if (PyObject_GetBuffer(arg, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (out.len < self->set_count) {
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "out is shorter than the sets");
        return NULL;
    }
    unsigned char *flag = out.buf;
    for (Py_ssize_t index = 0; index < self->set_count; index++) {
        KernelSet *set = &self->sets[index];
        if (set->kind == LEAST_OPEN)
            flag[index] = choose_least_open(self, set) < 0;
        else
            flag[index] = set->kind == ROUND_ROBIN && set->exhausted;
    }
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

static PyObject *Pass_counts(Pass *self, PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("nn", self->assigned, self->failed);
}

/* ------------------------------------------------------------------------------- construction */

static int get_buffer(PyObject *object, Py_buffer *view, int writable, Py_ssize_t length)
{
    if (int64_view(object, view, writable) < 0)
        return -1;
    if (view->len < length * (Py_ssize_t)sizeof(long long)) {
        PyErr_SetString(PyExc_ValueError, "an int64 array of the contacts' length is needed");
        return -1; /* the view is released with the Pass */
    }
    return 0;
}

static int optional_long(PyObject *value, int *present, long long *out)
{
    *present = value != Py_None;
    *out = *present ? PyLong_AsLongLong(value) : 0;
    return PyErr_Occurred() ? -1 : 0;
}

static long long *copied_int64(PyObject *object, Py_ssize_t *count)
{
    Py_buffer view;
    if (int64_view(object, &view, 0) < 0)
        return NULL;
    *count = view.len / (Py_ssize_t)sizeof(long long);
    long long *copy = malloc(view.len ? view.len : 1);
    if (copy == NULL)
        PyErr_NoMemory();
    else
        memcpy(copy, view.buf, view.len);
    PyBuffer_Release(&view);
    return copy;
}

/* A set is (LEAST_OPEN, heap keys, bound or None), (ROUND_ROBIN, member ranks, cap or None, pool) or None. */
static int read_set(KernelSet *set, PyObject *spec)
{
    set->chosen = -1;
    if (spec == Py_None)
        return 0;
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) < 3) {
        PyErr_SetString(PyExc_TypeError, "a set is a tuple");
        return -1;
    }
    set->kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
    if (set->kind == LEAST_OPEN && PyTuple_GET_SIZE(spec) == 3) {
        if ((set->heap = copied_int64(PyTuple_GET_ITEM(spec, 1), &set->heap_size)) == NULL)
            return -1;
        set->heap_capacity = set->heap_size;
        return optional_long(PyTuple_GET_ITEM(spec, 2), &set->bounded, &set->bound);
    }
    if (set->kind != ROUND_ROBIN || PyTuple_GET_SIZE(spec) != 4) {
        PyErr_SetString(PyExc_ValueError, "unknown set");
        return -1;
    }
    if ((set->members = copied_int64(PyTuple_GET_ITEM(spec, 1), &set->count)) == NULL)
        return -1;
    set->pool = PyLong_AsSsize_t(PyTuple_GET_ITEM(spec, 3));
    return optional_long(PyTuple_GET_ITEM(spec, 2), &set->capped, &set->below);
}

static int read_sets(Pass *self, PyObject *sets, PyObject *sets_of_user_start, PyObject *sets_of_user)
{
    for (Py_ssize_t index = 0; index < self->set_count; index++) {
        KernelSet *set = &self->sets[index];
        if (read_set(set, PyList_GET_ITEM(sets, index)) < 0)
            return -1;
        if (set->kind == ROUND_ROBIN && (set->pool < 0 || set->pool >= self->pool_count)) {
            PyErr_SetString(PyExc_ValueError, "a set's pool is out of range");
            return -1;
        }
        for (Py_ssize_t member = 0; member < set->count; member++)
            if (set->members[member] < 0 || set->members[member] >= self->n) {
                PyErr_SetString(PyExc_ValueError, "a member's rank is out of range");
                return -1;
            }
        for (Py_ssize_t entry = 0; entry < set->heap_size; entry++)
            if (set->heap[entry] < 0) {
                PyErr_SetString(PyExc_ValueError, "a heap key below zero");
                return -1;
            }
    }
    Py_ssize_t starts, held;
    if ((self->sets_of_user_start = copied_int64(sets_of_user_start, &starts)) == NULL ||
        (self->sets_of_user = copied_int64(sets_of_user, &held)) == NULL)
        return -1;
    if (starts != self->n + 1 || self->sets_of_user_start[0] != 0 || self->sets_of_user_start[self->n] != held) {
        PyErr_SetString(PyExc_ValueError, "sets_of_user_start must hold n + 1 offsets into sets_of_user");
        return -1;
    }
    for (Py_ssize_t rank = 0; rank < self->n; rank++)
        if (self->sets_of_user_start[rank] > self->sets_of_user_start[rank + 1]) {
            PyErr_SetString(PyExc_ValueError, "sets_of_user_start must not fall");
            return -1;
        }
    for (Py_ssize_t entry = 0; entry < held; entry++)
        if (self->sets_of_user[entry] < 0 || self->sets_of_user[entry] >= self->set_count ||
            self->sets[self->sets_of_user[entry]].kind == NOT_IN_KERNEL) {
            PyErr_SetString(PyExc_ValueError, "sets_of_user names a set the kernel does not have");
            return -1;
        }
    return 0;
}

static int Pass_init(Pass *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"users", "ids", "rank_of", "now", "span", "next_order", "set_of", "place", "previous",
                               "sets", "sets_of_user_start", "sets_of_user", "pool_keys", "cursors", "record_fall",
                               "out_position", "out_place", "out_failed", "out_code", NULL};
    PyObject *users, *ids, *rank_of, *now, *set_of, *place, *previous, *sets, *sets_of_user_start, *sets_of_user;
    PyObject *pool_keys, *cursors, *record_fall, *out_position, *out_place, *out_failed, *out_code;
    if (self->users != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "a Pass is made once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!OLLOOOO!OOO!O!OOOOO", keywords, &PyList_Type, &users,
                                     &PyList_Type, &ids, &PyDict_Type, &rank_of, &now, &self->span, &self->first_order,
                                     &set_of, &place, &previous, &PyList_Type, &sets, &sets_of_user_start, &sets_of_user,
                                     &PyList_Type, &pool_keys, &PyDict_Type, &cursors, &record_fall, &out_position,
                                     &out_place, &out_failed, &out_code))
        return -1;
    self->n = self->size = PyList_GET_SIZE(users);
    self->next_order = self->first_order;
    if (PyList_GET_SIZE(ids) != self->n) {
        PyErr_SetString(PyExc_ValueError, "one id per user");
        return -1;
    }
    Py_INCREF(users), self->users = users;
    Py_INCREF(ids), self->ids = ids;
    Py_INCREF(rank_of), self->rank_of = rank_of;
    Py_INCREF(now), self->now = now;
    Py_INCREF(pool_keys), self->pool_keys = pool_keys;
    Py_INCREF(cursors), self->cursors = cursors;
    Py_INCREF(record_fall), self->record_fall = record_fall;
    if (get_buffer(set_of, &self->set_of, 0, 0) < 0)
        return -1;
    Py_ssize_t contacts = self->contacts = self->set_of.len / (Py_ssize_t)sizeof(long long);
    if (get_buffer(place, &self->place, 0, contacts) < 0 || get_buffer(previous, &self->previous, 0, contacts) < 0 ||
        get_buffer(out_position, &self->out_position, 1, contacts) < 0 ||
        get_buffer(out_place, &self->out_place, 1, contacts) < 0 ||
        get_buffer(out_failed, &self->out_failed, 1, contacts) < 0 ||
        get_buffer(out_code, &self->out_code, 1, contacts) < 0)
        return -1;
    Py_ssize_t n = self->n ? self->n : 1;
    self->open = calloc(n, sizeof(long long));
    self->order = calloc(n, sizeof(long long));
    self->dirty = calloc(n, 1);
    self->dirty_list = calloc(n, sizeof(Py_ssize_t));
    self->pool_count = PyList_GET_SIZE(pool_keys);
    Py_ssize_t pools = self->pool_count ? self->pool_count : 1;
    self->cursor = calloc(pools, sizeof(long long));
    self->cursor_seen = calloc(pools, sizeof(PyObject *));
    self->cursor_moved = calloc(pools, 1);
    self->set_count = PyList_GET_SIZE(sets);
    self->sets = calloc(self->set_count ? self->set_count : 1, sizeof(KernelSet));
    if (!self->open || !self->order || !self->dirty || !self->dirty_list || !self->cursor || !self->cursor_seen ||
        !self->cursor_moved || !self->sets) {
        PyErr_NoMemory();
        return -1;
    }
    if (read_sets(self, sets, sets_of_user_start, sets_of_user) < 0)
        return -1;
    for (Py_ssize_t rank = 0; rank < self->n; rank++)
        if (load_rank(self, rank) < 0)
            return -1;
    return 0;
}

static void Pass_dealloc(Pass *self)
{
    for (Py_ssize_t index = 0; self->sets != NULL && index < self->set_count; index++) {
        free(self->sets[index].heap);
        free(self->sets[index].members);
    }
    for (Py_ssize_t pool = 0; self->cursor_seen != NULL && pool < self->pool_count; pool++)
        Py_XDECREF(self->cursor_seen[pool]);
    Py_buffer *views[] = {&self->set_of,      &self->place,      &self->previous, &self->out_position,
                          &self->out_place,   &self->out_failed, &self->out_code};
    for (size_t index = 0; index < sizeof(views) / sizeof(views[0]); index++)
        if (views[index]->obj != NULL)
            PyBuffer_Release(views[index]);
    free(self->sets), free(self->open), free(self->order), free(self->dirty), free(self->dirty_list);
    free(self->sets_of_user_start), free(self->sets_of_user);
    free(self->cursor), free(self->cursor_seen), free(self->cursor_moved);
    Py_XDECREF(self->users), Py_XDECREF(self->ids), Py_XDECREF(self->rank_of), Py_XDECREF(self->now);
    Py_XDECREF(self->pool_keys), Py_XDECREF(self->cursors), Py_XDECREF(self->record_fall);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Pass_methods[] = {
    {"run", (PyCFunction)Pass_run, METH_O, "Assign the contacts at these positions (int64), in order."},
    {"load", (PyCFunction)Pass_load, METH_O, "Read these users' counts and orders (ranks, int64) from their objects."},
    {"fell", (PyCFunction)Pass_fell, METH_O, "These users' counts fell (ranks, int64): their sets hear of it."},
    {"enter", (PyCFunction)Pass_enter, METH_O, "Read the cursors; the next assignment's order is given."},
    {"leave", (PyCFunction)Pass_leave, METH_NOARGS, "Write back the users and cursors; returns the next order."},
    {"exhausted", (PyCFunction)Pass_exhausted, METH_O, "Flag (uint8) each kernel set where nobody passes."},
    {"counts", (PyCFunction)Pass_counts, METH_NOARGS, "(contacts assigned, contacts failed) so far."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PassType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "rota.engine._kernel.Pass",
    .tp_basicsize = sizeof(Pass),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The batch's ordered pass over the contacts it covers (see engine/batch_kernel.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Pass_init,
    .tp_dealloc = (destructor)Pass_dealloc,
    .tp_methods = Pass_methods,
};

static struct PyModuleDef kernel_module = {
    PyModuleDef_HEAD_INIT, .m_name = "rota.engine._kernel", .m_doc = "The batch pass's compiled kernel.", .m_size = -1,
};

PyMODINIT_FUNC PyInit__kernel(void)
{
    OPEN = PyUnicode_InternFromString("open");
    ASSIGNED_ORDER = PyUnicode_InternFromString("assigned_order");
    LAST_ASSIGNED_AT = PyUnicode_InternFromString("last_assigned_at");
    if (!OPEN || !ASSIGNED_ORDER || !LAST_ASSIGNED_AT || PyType_Ready(&PassType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&kernel_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&PassType);
    if (PyModule_AddObject(module, "Pass", (PyObject *)&PassType) < 0) {
        Py_DECREF(&PassType);
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "LEAST_OPEN", LEAST_OPEN) < 0 ||
        PyModule_AddIntConstant(module, "ROUND_ROBIN", ROUND_ROBIN) < 0 ||
        PyModule_AddIntConstant(module, "NOBODY", NOBODY) < 0 ||
        PyModule_AddIntConstant(module, "NOT_A_USER", NOT_A_USER) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
