// crd-check runs Kubernetes 1.24's own CRD validation (apiextensions-apiserver v0.24, the code a
// 1.24 API server runs on a CRD create) with the CustomResourceValidationExpressions gate on, over
// every CustomResourceDefinition of a YAML stream read from stdin. 1.24's CEL cost estimator is
// stricter than later ones, and no 1.24 API server can be built from the module proxy, so this is
// how esox checks that its CRDs install there. It prints one line per CRD ("ok NAME" or
// "refused NAME: ERRORS") and exits 1 when any is refused.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/install"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
)

func main() {
	if err := utilfeature.DefaultMutableFeatureGate.Set("CustomResourceValidationExpressions=true"); err != nil {
		fmt.Fprintln(os.Stderr, "crd-check: feature gate:", err)
		os.Exit(2)
	}
	scheme := runtime.NewScheme()
	install.Install(scheme)

	reader := utilyaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	refused, checked := 0, 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "crd-check: reading stdin:", err)
			os.Exit(2)
		}
		if strings.TrimSpace(string(doc)) == "" {
			continue
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := utilyaml.Unmarshal(doc, &crd); err != nil {
			fmt.Fprintln(os.Stderr, "crd-check: decoding a document:", err)
			os.Exit(2)
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		scheme.Default(&crd)
		var internal apiextensions.CustomResourceDefinition
		if err := scheme.Convert(&crd, &internal, nil); err != nil {
			fmt.Fprintln(os.Stderr, "crd-check: converting", crd.Name, ":", err)
			os.Exit(2)
		}
		checked++
		errs := validation.ValidateCustomResourceDefinition(context.Background(), &internal)
		if len(errs) == 0 {
			fmt.Println("ok", crd.Name)
			continue
		}
		refused++
		fmt.Printf("refused %s: %s\n", crd.Name, errs.ToAggregate().Error())
	}
	fmt.Printf("%d checked, %d refused\n", checked, refused)
	if checked == 0 || refused > 0 {
		os.Exit(1)
	}
}
