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

    // Plain numbers in and out (most of Gyre's raw-kernel bindings): no clean-up, no per-call array.
    if (!isMethod && !anyDestructor && expected <= 3) {
      var t0 = params[0], t1 = params[1], t2 = params[2];
      if (expected === 0) {
        return function() { checkCount(arguments.length); return finish(cppInvokerFunc(cppTargetFunc)); };
      }
      if (expected === 1) {
        return function(a0) {
          checkCount(arguments.length);
          return finish(cppInvokerFunc(cppTargetFunc, t0['toWireType'](null, a0)));
        };
      }
      if (expected === 2) {
        return function(a0, a1) {
          checkCount(arguments.length);
          return finish(cppInvokerFunc(cppTargetFunc, t0['toWireType'](null, a0), t1['toWireType'](null, a1)));
        };
      }
      return function(a0, a1, a2) {
        checkCount(arguments.length);
        return finish(cppInvokerFunc(cppTargetFunc, t0['toWireType'](null, a0), t1['toWireType'](null, a1),
                                     t2['toWireType'](null, a2)));
      };
    }

    var first = isMethod ? 2 : 1;  // wired = [target, this?, ...arguments]
    var f = cppInvokerFunc;
    // A direct call for up to 12 wired values (Gyre's largest binding takes 11 arguments): V8 calls
    // through apply() about twice as slowly.
    var invoke = function(w) {
      switch (w.length) {
        case 1: return f(w[0]);
        case 2: return f(w[0], w[1]);
        case 3: return f(w[0], w[1], w[2]);
        case 4: return f(w[0], w[1], w[2], w[3]);
        case 5: return f(w[0], w[1], w[2], w[3], w[4]);
        case 6: return f(w[0], w[1], w[2], w[3], w[4], w[5]);
        case 7: return f(w[0], w[1], w[2], w[3], w[4], w[5], w[6]);
        case 8: return f(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]);
        case 9: return f(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8]);
        case 10: return f(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9]);
        case 11: return f(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10]);
        case 12: return f(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10], w[11]);
        default: return f.apply(null, w);
      }
    };
    return function() {
      checkCount(arguments.length);
      var destructors = needsDestructorStack ? [] : null;
      var wired = new Array(first + expected);
      wired[0] = cppTargetFunc;
      if (isMethod) wired[1] = thisType['toWireType'](destructors, this);
      for (var i = 0; i < expected; ++i) wired[first + i] = params[i]['toWireType'](destructors, arguments[i]);
      var rv = invoke(wired);
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
