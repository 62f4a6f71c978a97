// Embind's JS-to-C++ invoker without code generation, linked with --js-library over Emscripten's own.
//
// Embind normally writes each binding's invoker as source text and compiles it with new Function,
// which a Content-Security-Policy without 'unsafe-eval' forbids. Emscripten 3.1.6's replacement
// under -sDYNAMIC_EXECUTION=0 reads `arguments`, grows a shared array per call and allocates a
// closure per call, which made a call 4-14x slower (bench/call-overhead.mjs); it also shares its
// arrays between calls, so a re-entrant call would overwrite the outer one's arguments. This one
// does the same marshalling from closures specialised by arity, with per-call state on the stack.
mergeInto(LibraryManager.library, {
  $craftInvokerFunction__deps: ['$runDestructors', '$throwBindingError'],
  $craftInvokerFunction: function(humanName, argTypes, classType, cppInvokerFunc, cppTargetFunc) {
    var argCount = argTypes.length;
    if (argCount < 2) {
      throwBindingError("argTypes array size mismatch! Must at least get return value and 'this' types!");
    }
    var isMethod = argTypes[1] !== null && classType !== null;
    // A type without a destructorFunction registers its clean-up on a per-call stack instead.
    var needsDestructorStack = false;
    for (var i = 1; i < argCount; ++i) {
      if (argTypes[i] !== null && argTypes[i].destructorFunction === undefined) needsDestructorStack = true;
    }
    var returnType = argTypes[0];
    var returns = returnType.name !== 'void';
    var expected = argCount - 2;
    var params = argTypes.slice(2);
    var thisType = argTypes[1];
    var destructorOf = function(type) {
      return needsDestructorStack || type === null || type.destructorFunction === null ? null : type.destructorFunction;
    };
    var thisDestructor = isMethod ? destructorOf(thisType) : null;
    var paramDestructors = params.map(destructorOf);
    var anyDestructor = needsDestructorStack || thisDestructor !== null || paramDestructors.some(function(d) { return d !== null; });
    var checkCount = function(count) {
      if (count !== expected) {
        throwBindingError('function ' + humanName + ' called with ' + count + ' arguments, expected ' + expected + ' args!');
      }
    };
    var finish = function(rv) {
      return returns ? returnType['fromWireType'](rv) : undefined;
    };

    // Plain values in (numbers, booleans, emval handles): no clean-up and no per-call array, one
    // closure per arity up to 14 arguments (kernelAttention, Gyre's longest timed binding;
    // kernelAttentionRows, with 16, runs once per block of about 20 ms). The loop over
    // a per-call array below made the 11-argument GEMM binding about twice as slow as the generated
    // invoker (bench/call-overhead.mjs); spelled out, it costs what the generated one costs.
    if (!isMethod && !anyDestructor && expected <= 14) {
      var f = cppInvokerFunc, g = cppTargetFunc;
      var wire = function(type, value) { return type['toWireType'](null, value); };
      var t0 = params[0], t1 = params[1], t2 = params[2], t3 = params[3], t4 = params[4], t5 = params[5];
      var t6 = params[6], t7 = params[7], t8 = params[8], t9 = params[9], t10 = params[10];
      var t11 = params[11], t12 = params[12], t13 = params[13];
      switch (expected) {
        case 0: return function() {
          checkCount(arguments.length);
          return finish(f(g));
        };
        case 1: return function(a0) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0)));
        };
        case 2: return function(a0, a1) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0), wire(t1, a1)));
        };
        case 3: return function(a0, a1, a2) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0), wire(t1, a1), wire(t2, a2)));
        };
        case 4: return function(a0, a1, a2, a3) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0), wire(t1, a1), wire(t2, a2), wire(t3, a3)));
        };
        case 5: return function(a0, a1, a2, a3, a4) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0), wire(t1, a1), wire(t2, a2), wire(t3, a3), wire(t4, a4)));
        };
        case 6: return function(a0, a1, a2, a3, a4, a5) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0), wire(t1, a1), wire(t2, a2), wire(t3, a3), wire(t4, a4),
                        wire(t5, a5)));
        };
        case 7: return function(a0, a1, a2, a3, a4, a5, a6) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0), wire(t1, a1), wire(t2, a2), wire(t3, a3), wire(t4, a4),
                        wire(t5, a5), wire(t6, a6)));
        };
        case 8: return function(a0, a1, a2, a3, a4, a5, a6, a7) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0), wire(t1, a1), wire(t2, a2), wire(t3, a3), wire(t4, a4),
                        wire(t5, a5), wire(t6, a6), wire(t7, a7)));
        };
        case 9: return function(a0, a1, a2, a3, a4, a5, a6, a7, a8) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0), wire(t1, a1), wire(t2, a2), wire(t3, a3), wire(t4, a4),
                        wire(t5, a5), wire(t6, a6), wire(t7, a7), wire(t8, a8)));
        };
        case 10: return function(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0), wire(t1, a1), wire(t2, a2), wire(t3, a3), wire(t4, a4),
                        wire(t5, a5), wire(t6, a6), wire(t7, a7), wire(t8, a8), wire(t9, a9)));
        };
        case 11: return function(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0), wire(t1, a1), wire(t2, a2), wire(t3, a3), wire(t4, a4),
                        wire(t5, a5), wire(t6, a6), wire(t7, a7), wire(t8, a8), wire(t9, a9),
                        wire(t10, a10)));
        };
        case 12: return function(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0), wire(t1, a1), wire(t2, a2), wire(t3, a3), wire(t4, a4),
                        wire(t5, a5), wire(t6, a6), wire(t7, a7), wire(t8, a8), wire(t9, a9),
                        wire(t10, a10), wire(t11, a11)));
        };
        case 13: return function(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0), wire(t1, a1), wire(t2, a2), wire(t3, a3), wire(t4, a4),
                        wire(t5, a5), wire(t6, a6), wire(t7, a7), wire(t8, a8), wire(t9, a9),
                        wire(t10, a10), wire(t11, a11), wire(t12, a12)));
        };
        case 14: return function(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13) {
          checkCount(arguments.length);
          return finish(f(g, wire(t0, a0), wire(t1, a1), wire(t2, a2), wire(t3, a3), wire(t4, a4),
                        wire(t5, a5), wire(t6, a6), wire(t7, a7), wire(t8, a8), wire(t9, a9),
                        wire(t10, a10), wire(t11, a11), wire(t12, a12), wire(t13, a13)));
        };
      }
    }

    // Methods and arguments that need clean-up (strings): marshalled through a per-call array.
    var first = isMethod ? 2 : 1;  // wired = [target, this?, ...arguments]
    return function() {
      checkCount(arguments.length);
      var destructors = needsDestructorStack ? [] : null;
      var wired = new Array(first + expected);
      wired[0] = cppTargetFunc;
      if (isMethod) wired[1] = thisType['toWireType'](destructors, this);
      for (var i = 0; i < expected; ++i) wired[first + i] = params[i]['toWireType'](destructors, arguments[i]);
      var rv = cppInvokerFunc.apply(null, wired);
      if (needsDestructorStack) {
        runDestructors(destructors);
      } else {
        if (thisDestructor !== null) thisDestructor(wired[1]);
        for (var j = 0; j < expected; ++j) {
          if (paramDestructors[j] !== null) paramDestructors[j](wired[first + j]);
        }
      }
      return finish(rv);
    };
  },
});
