// What the console uses of Firebase (bundled by devtools/console_build.py into
// vendor/firebase.js; loaded only when config.json says mode "firebase").
export { initializeApp } from "@firebase/app";
export {
  getAuth, GoogleAuthProvider, signInWithPopup, onAuthStateChanged, signOut,
} from "@firebase/auth";
