#pragma once

// Clang's thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html), as
// LevelDB's port/thread_annotations.h spells them. With clang and -Wthread-safety (the CMake option
// PODCACHE_THREAD_SAFETY, `make thread-safety`) the compiler checks that every access to a
// GUARDED_BY member happens with its mutex held, that a REQUIRES function is only called with it
// held, and that every lock taken is released. With any other compiler they expand to nothing.
//
// The lockable types to use them with are in core/mutex.h (Mutex, MutexLock, CondVar) and
// core/spin_lock.h (SpinLock, SpinLockHolder): std::mutex and std::lock_guard of libstdc++ carry no
// annotations, so the analysis cannot see them.
//
// Abseil (which gRPC's headers include) defines some of these names too, unprefixed. Every
// definition here is #ifndef-guarded and token for token the same as Abseil's where both exist, so
// the two headers can be included in either order without a redefinition.

#if defined(__clang__)
#define THREAD_ANNOTATION_ATTRIBUTE__(x) __attribute__((x))
#else
#define THREAD_ANNOTATION_ATTRIBUTE__(x)  // no-op
#endif

// A class whose objects are capabilities (locks): CAPABILITY("mutex").
#ifndef CAPABILITY
#define CAPABILITY(x) THREAD_ANNOTATION_ATTRIBUTE__(capability(x))
#endif

// An RAII class that holds the capabilities its constructor acquires until its destructor.
#ifndef SCOPED_CAPABILITY
#define SCOPED_CAPABILITY THREAD_ANNOTATION_ATTRIBUTE__(scoped_lockable)
#endif

// A member (or global) that may only be read or written with the capability `x` held.
#ifndef GUARDED_BY
#define GUARDED_BY(x) THREAD_ANNOTATION_ATTRIBUTE__(guarded_by(x))
#endif

// A pointer member whose pointee may only be accessed with `x` held (the pointer itself is free).
#ifndef PT_GUARDED_BY
#define PT_GUARDED_BY(x) THREAD_ANNOTATION_ATTRIBUTE__(pt_guarded_by(x))
#endif

// Lock order: this capability is acquired after (before) the ones named.
#ifndef ACQUIRED_AFTER
#define ACQUIRED_AFTER(...) THREAD_ANNOTATION_ATTRIBUTE__(acquired_after(__VA_ARGS__))
#endif
#ifndef ACQUIRED_BEFORE
#define ACQUIRED_BEFORE(...) THREAD_ANNOTATION_ATTRIBUTE__(acquired_before(__VA_ARGS__))
#endif

// A function that must be called with the capabilities held (exclusively / shared), and that
// leaves them held.
#ifndef REQUIRES
#define REQUIRES(...) THREAD_ANNOTATION_ATTRIBUTE__(requires_capability(__VA_ARGS__))
#endif
#ifndef REQUIRES_SHARED
#define REQUIRES_SHARED(...) THREAD_ANNOTATION_ATTRIBUTE__(requires_shared_capability(__VA_ARGS__))
#endif

// A function that acquires (releases) the capabilities and returns with them held (released).
// Without arguments, on a member function: the object itself.
#ifndef ACQUIRE
#define ACQUIRE(...) THREAD_ANNOTATION_ATTRIBUTE__(acquire_capability(__VA_ARGS__))
#endif
#ifndef ACQUIRE_SHARED
#define ACQUIRE_SHARED(...) THREAD_ANNOTATION_ATTRIBUTE__(acquire_shared_capability(__VA_ARGS__))
#endif
#ifndef RELEASE
#define RELEASE(...) THREAD_ANNOTATION_ATTRIBUTE__(release_capability(__VA_ARGS__))
#endif
#ifndef RELEASE_SHARED
#define RELEASE_SHARED(...) THREAD_ANNOTATION_ATTRIBUTE__(release_shared_capability(__VA_ARGS__))
#endif

// A function that tries to acquire the capability and returns `x` (true or false) on success.
#ifndef TRY_ACQUIRE
#define TRY_ACQUIRE(...) THREAD_ANNOTATION_ATTRIBUTE__(try_acquire_capability(__VA_ARGS__))
#endif

// A function that must be called without the capabilities held (it takes them itself). Only
// checked where the caller's state is known, i.e. on callers that hold one.
#ifndef EXCLUDES
#define EXCLUDES(...) THREAD_ANNOTATION_ATTRIBUTE__(locks_excluded(__VA_ARGS__))
#endif

// A function that checks at run time (or promises) that the capability is held; the analysis
// assumes it is from there on.
#ifndef ASSERT_CAPABILITY
#define ASSERT_CAPABILITY(x) THREAD_ANNOTATION_ATTRIBUTE__(assert_capability(x))
#endif

// A function that returns a reference to the capability `x`.
#ifndef RETURN_CAPABILITY
#define RETURN_CAPABILITY(x) THREAD_ANNOTATION_ATTRIBUTE__(lock_returned(x))
#endif

// Turns the analysis off for one function. Every use says, in a comment, why the analysis cannot
// follow it there.
#ifndef NO_THREAD_SAFETY_ANALYSIS
#define NO_THREAD_SAFETY_ANALYSIS THREAD_ANNOTATION_ATTRIBUTE__(no_thread_safety_analysis)
#endif
